// Issue 22 point 8: conventions a Workers user expects. Stack traces read as source
// (upload_source_maps, inherited without warnings: no top-level Worker, see README); a CLI command opens only the environment it needs, so a single-Worker
// project (no [env.*]) gets no "No environment found" warnings; itty-router, which only the
// Worker bundles use, is a devDependency; the packed README's links to docs/ resolve in the tarball.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli } from "../helpers/cli.ts";

const exec = promisify(execFile);
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  files: string[];
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-conventions-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("wrangler.toml", () => {
  it("every environment inherits upload_source_maps (stack traces read as source), and `wrangler deploy --env site` ships the map", async () => {
    const { unstable_readConfig } = await import("wrangler");
    for (const env of ["site", "splitter", "auth"])
      expect(unstable_readConfig({ config: join(ROOT, "wrangler.toml"), env }).upload_source_maps, env).toBe(true);
    const out = join(dir, "site");
    await exec(process.execPath, [WRANGLER, "deploy", "--dry-run", "--env", "site", "--outdir", out], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
    });
    expect(await readdir(out)).toEqual(expect.arrayContaining(["index.js", "index.js.map"]));
  }, 120_000);

  it("no environment's config carries a warning (nothing at the top level that environments do not inherit)", async () => {
    for (const env of ["site", "splitter", "auth"]) {
      const r = await exec(process.execPath, [WRANGLER, "deploy", "--dry-run", "--env", env, "--outdir", join(dir, `w-${env}`)], {
        cwd: ROOT,
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
      });
      expect(r.stdout + r.stderr, env).not.toMatch(/WARNING/);
    }
  }, 180_000);
});

describe("a single-Worker project (no [env.*])", () => {
  it("edgekv opens the top-level binding without wrangler's 'No environment found' warnings", async () => {
    const project = join(dir, "single");
    await exec("mkdir", ["-p", project]);
    await writeFile(
      join(project, "wrangler.toml"),
      'name = "my-site"\nmain = "worker.ts"\ncompatibility_date = "2026-11-01"\n[[kv_namespaces]]\nbinding = "SITE_KV"\nid = "my-site-local"\n',
    );
    await writeFile(join(project, "worker.ts"), "export default { fetch: () => new Response('ok') };\n");
    const put = await runCli(["kv", "put", "k", "v", "--env", "site"], { cwd: project });
    expect(put.code, put.stderr).toBe(0);
    const got = await runCli(["kv", "get", "k", "--env", "site"], { cwd: project });
    expect(got.stdout).toBe("v");
    for (const r of [put, got]) expect(r.stderr).not.toMatch(/No environment found/);
    // A Worker the project does not have is named, not guessed.
    const none = await runCli(["rollout", "status"], { cwd: project });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("has no KV binding ROLLOUT_KV in [env.splitter] or at the top level");
  }, 120_000);
});

describe("package.json", () => {
  it("itty-router (only the Worker bundles import it) is a devDependency", () => {
    expect(pkg.dependencies["itty-router"]).toBeUndefined();
    expect(pkg.devDependencies["itty-router"]).toBeDefined();
  });

  it("the packed README's relative links resolve inside the tarball (docs/ ships)", async () => {
    const r = await exec("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: ROOT, maxBuffer: 16 << 20 });
    const [info] = JSON.parse(r.stdout.slice(r.stdout.indexOf("["))) as { files: { path: string }[] }[];
    const packed = new Set(info!.files.map((f) => f.path));
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const links = [...readme.matchAll(/\]\(((?:docs\/|\.\/docs\/)[^)#\s]+)/g)].map((m) => m[1]!.replace(/^\.\//, ""));
    expect(links.length).toBeGreaterThan(3);
    for (const link of links) expect(packed.has(link), link).toBe(true);
  }, 120_000);
});
