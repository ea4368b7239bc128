// The package as another project installs it (issue 15): `npm pack` (prepack builds dist/), the tarball
// installed into a fresh project without wrangler (a peer), `npx edgekv --help` run there on Node 22, the
// library imported at runtime, and an import of edgekv/kv type-checked with tsc.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/wrangler-dev.ts";

const execFileP = promisify(execFile);

/**
 * The environment of every command here: npm's own variables from the `npm test` around us dropped (they
 * would point the inner npm at this project), and the Node running this test (22, the `node`
 * devDependency) first on PATH, so npm, npx and the bin's `#!/usr/bin/env node` all run on it.
 */
const env: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== "INIT_CWD")),
  PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`,
  NO_COLOR: "1",
  npm_config_update_notifier: "false",
};
const sh = (cmd: string, args: string[], cwd: string) => execFileP(cmd, args, { cwd, env, maxBuffer: 16 << 20 });

let dir = "";
let consumer = "";
let packed: string[] = [];
const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-pack-"));
  const { stdout } = await sh("npm", ["pack", "--json", "--pack-destination", dir], ROOT);
  const [info] = JSON.parse(stdout.slice(stdout.indexOf("["))) as { filename: string; files: { path: string }[] }[];
  packed = info!.files.map((f) => f.path);
  consumer = join(dir, "consumer");
  await mkdir(consumer);
  await writeFile(join(consumer, "package.json"), JSON.stringify({ name: "edgekv-consumer", private: true, type: "module" }));
  // --legacy-peer-deps: wrangler (a peer, about 100 MB with workerd) is not needed for --help or the library.
  await sh("npm", ["install", join(dir, info!.filename), "--prefer-offline", "--legacy-peer-deps", "--no-audit", "--no-fund"], consumer);
}, 300_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("npm pack, installed into a fresh project", () => {
  it("ships the compiled library and CLI, and no sources, tests or local secrets", () => {
    expect(packed).toEqual(
      expect.arrayContaining([
        "cli/bin.mjs",
        "dist/cli/main.js",
        "dist/shared/kv/index.js",
        "dist/shared/kv/index.d.ts",
        "LICENSE",
        "README.md",
        "package.json",
      ]),
    );
    const stray = packed.filter((p) => (p.endsWith(".ts") && !p.endsWith(".d.ts")) || /^(test|bench|demo|\.dev\.vars|\.wrangler|node_modules)\b/.test(p));
    expect(stray).toEqual([]);
  });

  it("runs `npx edgekv --help` and `--version` there, on Node 22", async () => {
    expect((await sh("node", ["-p", "process.versions.node"], consumer)).stdout).toMatch(/^22\./);
    const help = await sh("npx", ["edgekv", "--help"], consumer);
    expect(help.stdout).toMatch(/edgekv/);
    expect(help.stdout).toMatch(/\bsite\b/);
    expect((await sh("npx", ["edgekv", "--version"], consumer)).stdout.trim()).toContain(pkg.version);
  });

  it("imports edgekv/kv at runtime from node_modules (compiled JS, no type stripping)", async () => {
    const script = "const m = await import('edgekv/kv'); console.log(typeof m.KvStore, typeof m.json, typeof m.KvOps);";
    expect((await sh("node", ["--input-type=module", "-e", script], consumer)).stdout.trim()).toBe("function function function");
  });

  it("type-checks an import of edgekv/kv with tsc (types from the exports map, the schema's type reaching the caller)", async () => {
    await writeFile(
      join(consumer, "index.ts"),
      `import { json, KvOps, KvStore, num, obj, standard, type KvBinding } from "edgekv/kv";

declare const binding: KvBinding;
const Counter = standard(obj({ n: num }));
const store = new KvStore(binding, { prefix: "c/", codec: json(Counter) });

export async function bump(ops = new KvOps()): Promise<number> {
  const n: number = ((await store.get("hits", { ops }))?.n ?? 0) + 1;
  await store.put("hits", { n }, { ops });
  // @ts-expect-error a string is not a Counter: the types are real, not any
  await store.put("hits", { n: "1" }, { ops });
  return n;
}
`,
    );
    await writeFile(
      join(consumer, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2023",
          module: "nodenext",
          moduleResolution: "nodenext",
          lib: ["ES2023", "DOM"],
          types: [],
          strict: true,
          noEmit: true,
          skipLibCheck: false,
        },
        files: ["index.ts"],
      }),
    );
    const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
    const result = await sh(process.execPath, [tsc, "-p", consumer], consumer).catch((e: { stdout?: string }) => ({ stdout: `tsc failed:\n${e.stdout ?? e}` }));
    expect(result.stdout).toBe("");
  });
});
