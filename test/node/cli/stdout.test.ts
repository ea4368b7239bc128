// Issue 22 point 1: stdout carries only what the command means to print. With the
// `.dev.vars.<env>` files the docs ask for present, wrangler prints "Using secrets
// defined in .dev.vars.<env>" while the CLI opens local KV; that line (and anything
// else a library prints) must reach stderr, never stdout. The real binary in a child
// process, every command, real local KV, in a project folder holding all three files.
import { randomBytes } from "node:crypto";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli, type CliResult } from "../helpers/cli.ts";
import { siteDir } from "../helpers/site.ts";

let project: string;
const secrets = { PREVIEW_SECRET: randomBytes(32).toString("hex"), OVERRIDE_SECRET: randomBytes(32).toString("hex") };

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), "edgekv-stdout-"));
  await copyFile(join(ROOT, "wrangler.toml"), join(project, "wrangler.toml"));
  await writeFile(join(project, ".dev.vars.site"), `PREVIEW_SECRET=${secrets.PREVIEW_SECRET}\n`);
  await writeFile(join(project, ".dev.vars.splitter"), `OVERRIDE_SECRET=${secrets.OVERRIDE_SECRET}\n`);
  await writeFile(join(project, ".dev.vars.auth"), `ADMIN_SECRET=${randomBytes(32).toString("hex")}\n`);
  await siteDir(project, { "index.html": "<h1>home</h1>", "about.html": "about" }, "public");
});
afterAll(async () => {
  await rm(project, { recursive: true, force: true });
});
/** Each command is a child process that starts workerd: slow on a busy machine. */
const SLOW = 300_000;

/** Runs in the project folder (its wrangler.toml, its .dev.vars.*, its .wrangler/state). */
const run = (args: string[], options: { input?: string; env?: Record<string, string> } = {}) => runCli(args, { cwd: project, ...options });

/** The command succeeded and nothing but its data reached stdout. */
function clean(r: CliResult): void {
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).not.toMatch(/Using secrets|\.dev\.vars|⛅|\[mf:|\[wrangler/i);
}
const jsonOf = (r: CliResult): unknown => {
  clean(r);
  return JSON.parse(r.stdout);
};

describe("with .dev.vars.site, .dev.vars.splitter and .dev.vars.auth present, stdout is exactly the data", () => {
  it("wrangler's secrets notice goes to stderr (the condition this file is about is real)", async () => {
    const r = await run(["kv", "list", "--env", "site", "--json"]);
    expect(jsonOf(r)).toEqual([]);
    expect(r.stderr).toContain("Using secrets defined in .dev.vars.site");
  });

  it(
    "kv put / get / list / delete",
    async () => {
      clean(await run(["kv", "put", "greeting", "hello", "--env", "site"]));
      const got = await run(["kv", "get", "greeting", "--env", "site"]);
      clean(got);
      expect(got.stdout).toBe("hello");
      expect(jsonOf(await run(["kv", "list", "--env", "site", "--json"]))).toEqual([expect.objectContaining({ name: "greeting" })]);
      const list = await run(["kv", "list", "--env", "site"]);
      clean(list);
      expect(list.stdout).toBe("greeting\n");
      expect(jsonOf(await run(["kv", "delete", "greeting", "--env", "site", "--yes", "--json"]))).toMatchObject({ deleted: true });
    },
    SLOW,
  );

  it(
    "site deploy / versions / preview / promote / rollback / gc",
    async () => {
      const deployed = jsonOf(await run(["site", "deploy", "public", "--json"])) as { version: string };
      expect(deployed.version).toMatch(/\S/);
      const versions = jsonOf(await run(["site", "versions", "--json"])) as { live: string };
      expect(versions.live).toBe(deployed.version);
      const preview = await run(["site", "preview", deployed.version], { env: { PREVIEW_SECRET: secrets.PREVIEW_SECRET } });
      clean(preview);
      expect(preview.stdout.trimEnd().split("\n")).toHaveLength(1); // the link; the hint is on stderr
      expect(preview.stderr).toContain("shows");
      await writeFile(join(project, "public", "about.html"), "about, changed");
      const preview2 = jsonOf(await run(["site", "deploy", "public", "--preview", "--json"])) as { version: string };
      jsonOf(await run(["site", "promote", preview2.version, "--yes", "--json"]));
      jsonOf(await run(["site", "rollback", "--json"]));
      jsonOf(await run(["site", "gc", "--dry-run", "--json"]));
    },
    SLOW,
  );

  it(
    "rollout init / set / status / schedule / config get|put / history / rollback / promote / override",
    async () => {
      jsonOf(await run(["rollout", "init", "--blue", "https://blue.test", "--green", "https://green.test", "--json"]));
      jsonOf(await run(["rollout", "set", "20", "--json"]));
      jsonOf(await run(["rollout", "status", "--json"]));
      jsonOf(await run(["rollout", "schedule", "30@now", "--json"]));
      // The documented round trip: `config get > rollout.json`, then `config put rollout.json`.
      const got = await run(["rollout", "config", "get"]);
      const config = jsonOf(got) as { version: number };
      expect(config.version).toBeGreaterThan(0);
      await writeFile(join(project, "rollout.json"), got.stdout);
      jsonOf(await run(["rollout", "config", "put", "rollout.json", "--dry-run", "--json"]));
      jsonOf(await run(["rollout", "config", "put", "rollout.json", "--yes", "--json"]));
      expect(Array.isArray(jsonOf(await run(["rollout", "history", "--json"])))).toBe(true);
      jsonOf(await run(["rollout", "rollback", "--json"]));
      jsonOf(await run(["rollout", "promote", "--yes", "--json"]));
      const override = await run(["rollout", "override", "green"], { env: { OVERRIDE_SECRET: secrets.OVERRIDE_SECRET } });
      clean(override);
      expect(override.stdout).toMatch(/^[^\s]+\n$/); // the value alone: V=$(edgekv rollout override green)
      expect(override.stderr).toContain("x-edgekv-override");
      expect(jsonOf(await run(["rollout", "override", "blue", "--json"], { env: { OVERRIDE_SECRET: secrets.OVERRIDE_SECRET } }))).toMatchObject({
        color: "blue",
      });
    },
    SLOW,
  );

  it(
    "token keygen / issue / list / revoke: an issued token is one line",
    async () => {
      const jwk = jsonOf(await run(["token", "keygen"])) as { kty: string };
      expect(jwk.kty).toBeDefined();
      const issued = await run(["token", "issue", "--user", "alice"]);
      clean(issued);
      expect(issued.stdout).toMatch(/^\S+\n$/); // TOKEN=$(edgekv token issue ...) captures the token alone
      const token = issued.stdout.trim();
      const listed = jsonOf(await run(["token", "list", "--json"])) as unknown[];
      expect(listed).toHaveLength(1);
      const withJson = jsonOf(await run(["token", "issue", "--user", "bob", "--json"])) as { token: string };
      expect(withJson.token).toMatch(/\S/);
      jsonOf(await run(["token", "revoke", "--stdin", "--json"], { input: token }));
      jsonOf(await run(["token", "revoke", "--user", "bob", "--yes", "--json"]));
    },
    SLOW,
  );

  it("errors under --json: one JSON object on stdout", async () => {
    const r = await run(["kv", "get", "missing", "--env", "site", "--json"]);
    expect(r.stdout).not.toMatch(/Using secrets/);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false });
  });
});
