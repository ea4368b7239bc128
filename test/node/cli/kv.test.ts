import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, runCli } from "../helpers/cli.ts";
import { readKeyWorker, startWithEnvBindings } from "../helpers/miniflare.ts";

let dir: string;
let reader: Miniflare;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-cli-"));
});
afterAll(async () => {
  await reader?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe("edgekv kv (CLI core against local state)", () => {
  it("writes with the real binary and a Worker in workerd reads it back", async () => {
    const put = await runCli(["kv", "put", "greeting", "héllo wörld", "--env", "site", "--persist-to", dir, "--metadata", '{"by":"test"}']);
    expect(put.stderr).toBe("");
    expect(put.code).toBe(0);
    expect(put.stdout).toContain("wrote greeting to SITE_KV");

    reader = await startWithEnvBindings("site", dir, readKeyWorker("SITE_KV"));
    const res = await reader.dispatchFetch("http://local/?key=greeting");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ value: "héllo wörld", metadata: { by: "test" } });
  });

  it("a later CLI write is seen by the running Worker without restart", async () => {
    expect((await cli(["kv", "put", "greeting", "second", "--env", "site", "--persist-to", dir])).code).toBe(0);
    const res = await reader.dispatchFetch("http://local/?key=greeting");
    expect(await res.json()).toMatchObject({ value: "second" });
  });

  it("keeps environments apart: a site key is not in ROLLOUT_KV", async () => {
    const r = await cli(["kv", "get", "greeting", "--env", "splitter", "--persist-to", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('key "greeting" not found in ROLLOUT_KV');
  });

  it("reads, lists as JSON and deletes", async () => {
    await cli(["kv", "put", "list/a", "1", "--env", "site", "--persist-to", dir]);
    await cli(["kv", "put", "list/b", "2", "--env", "site", "--persist-to", dir]);
    const listed = await cli(["kv", "list", "--prefix", "list/", "--json", "--env", "site", "--persist-to", dir]);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { name: string }[]).map((k) => k.name)).toEqual(["list/a", "list/b"]);
    expect((await cli(["kv", "delete", "list/a", "--env", "site", "--persist-to", dir, "--yes"])).code).toBe(0);
    const after = await cli(["kv", "list", "--prefix", "list/", "--env", "site", "--persist-to", dir]);
    expect(after.stdout.trim()).toBe("list/b");
  });

  it("puts binary content from --file byte for byte", async () => {
    const file = join(dir, "blob.bin");
    const content = Buffer.from([0, 1, 2, 255, 254, 10, 13]);
    await writeFile(file, content);
    expect((await cli(["kv", "put", "blob", "--file", file, "--env", "site", "--persist-to", dir])).code).toBe(0);
    const got = await reader.getKVNamespace("SITE_KV");
    const buf = await got.get("blob", "arrayBuffer");
    expect(Buffer.from(buf!)).toEqual(content);
  });
});

describe("edgekv CLI errors: one line, non-zero exit, nothing written", () => {
  it.each([
    [["kv", "put", "k", "v", "--env", "site", "--ttl", "30"], 2, "KV limit expiration-ttl: expirationTtl 30 is less than 60 seconds"],
    [["kv", "put", "x".repeat(513), "v", "--env", "site"], 2, "KV limit key-bytes: key is 513 bytes, more than 512"],
    [["kv", "put", "..", "v", "--env", "site"], 2, 'KV limit key-dot: ".." is not a legal key'],
    [["kv", "put", "k", "v", "--env", "site", "--metadata", JSON.stringify({ a: "x".repeat(1100) })], 2, "KV limit metadata-bytes"],
    [["kv", "put", "k", "v", "--env", "site", "--metadata", "{not json"], 2, "--metadata must be JSON"],
    [["kv", "put", "k", "v", "--env", "nowhere"], 2, '--env must be site, splitter or auth, got "nowhere"'],
    [["kv", "put", "k", "v", "--env", "site", "--bogus"], 2, "unknown option --bogus"],
    [["kv", "put", "k", "v", "--env", "site", "--local", "--remote"], 2, "--local and --remote exclude each other"],
    [["kv", "put", "k", "--env", "site"], 2, "give either VALUE or --file PATH"],
    [["kv", "put", "k", "--file", "/nonexistent/file", "--env", "site"], 1, "cannot read /nonexistent/file: ENOENT"],
    [["nope"], 2, 'unknown command "nope"'],
    [["kv", "gte", "k"], 2, 'unknown command "kv gte" (did you mean "get"?)'],
    [["kv", "frobnicate"], 2, 'unknown command "kv frobnicate"'],
  ])("%j exits %i with a clear message", async (args, code, message) => {
    const r = await cli([...(args as string[]), "--persist-to", dir]);
    expect(r.code).toBe(code);
    expect(r.stderr.split("\n")[0]).toContain(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace without --verbose
    expect(r.stdout).toBe("");
  });

  it("a rejected write leaves the previous value in place", async () => {
    await cli(["kv", "put", "keep", "good", "--env", "site", "--persist-to", dir]);
    const bad = await cli(["kv", "put", "keep", "bad", "--env", "site", "--ttl", "1", "--persist-to", dir]);
    expect(bad.code).toBe(2);
    const got = await cli(["kv", "get", "keep", "--env", "site", "--persist-to", dir]);
    expect(got.stdout.trim()).toBe("good");
  });

  it("--verbose adds the stack trace", async () => {
    const r = await cli(["kv", "put", "k", "v", "--env", "site", "--ttl", "1", "--verbose", "--persist-to", dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\n\s+at /);
  });

  it("--remote without a real namespace id says what to do", async () => {
    const r = await cli(["kv", "get", "k", "--env", "site", "--remote"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("npx wrangler kv namespace create SITE_KV");
  });

  it("--help works at every level", async () => {
    const root = await cli(["--help"]);
    expect(root.code).toBe(0);
    for (const g of ["site", "rollout", "token", "kv", "completion"]) expect(root.stdout).toContain(`  edgekv ${g} `);
    expect(root.stdout).toContain("Exit codes: 0 ok, 1 failure, 2 usage or invalid input");
    const group = await cli(["kv", "--help"]);
    expect(group.stdout).toContain("Commands:");
    const cmd = await cli(["kv", "put", "--help"]);
    expect(cmd.stdout).toContain("Usage: edgekv kv put KEY");
    expect(cmd.stdout).toMatch(/--persist-to +DIR: local state folder/);
  });
});
