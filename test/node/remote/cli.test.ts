/**
 * `--remote` end to end through the real `edgekv` binary and a local stand-in for
 * Cloudflare's API (scripts/cf-api.ts), reached through CLOUDFLARE_API_BASE_URL, as a
 * user's CI would run it: token in the environment, requests counted by route.
 */
import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runCli, ROOT } from "../helpers/cli.ts";
import { NAMESPACE_IDS, remoteProject, type RemoteProject } from "../helpers/remote.ts";

const exec = promisify(execFile);
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

let p: RemoteProject;
beforeAll(async () => {
  p = await remoteProject();
});
afterAll(() => p?.close());
afterEach(() => p.api.resetCounts());

const remote = (args: string[], env: Record<string, string> = {}, input?: string) =>
  runCli([...args, "--remote", "--config", p.config], { env: { ...p.env, ...env }, ...(input !== undefined ? { input } : {}) });

/** `wrangler kv key ...` against the same stand-in (raw stdout bytes). */
async function wrangler(args: string[]): Promise<{ stdout: Buffer; stderr: string }> {
  const r = await exec(process.execPath, [WRANGLER, "kv", "key", ...args, "--namespace-id", NAMESPACE_IDS.site, "--remote"], {
    cwd: p.dir,
    env: { ...process.env, ...p.env, NO_COLOR: "1" },
    encoding: "buffer",
    maxBuffer: 64 * 1024 * 1024,
  });
  return { stdout: r.stdout, stderr: r.stderr.toString() };
}

/** Every byte value, twice, and some invalid UTF-8. */
const BINARY = Buffer.concat([
  Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
  Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0, 10, 13]),
  Buffer.alloc(3000, 0x80),
]);

describe("kv get/put --remote", () => {
  it("writes binary byte for byte in one request, and reads it back exactly (stdout and --file)", async () => {
    const file = join(p.dir, "blob.bin");
    await writeFile(file, BINARY);
    const put = await remote(["kv", "put", "bin/blob 1", "--file", file, "--env", "site", "--metadata", '{"by":"edgekv"}']);
    expect(put.stderr).toBe("");
    expect(put.code).toBe(0);
    expect(p.api.counts()).toEqual({ "PUT values": 1 });
    expect(Buffer.from(p.api.namespace(NAMESPACE_IDS.site).get("bin/blob 1")!.value).equals(BINARY)).toBe(true);

    const out = await remote(["kv", "get", "bin/blob 1", "--env", "site"]);
    expect(out.code).toBe(0);
    expect(out.stdoutBytes!.equals(BINARY)).toBe(true);
    const back = join(p.dir, "back.bin");
    const toFile = await remote(["kv", "get", "bin/blob 1", "--env", "site", "--file", back, "--json"]);
    expect(JSON.parse(toFile.stdout)).toMatchObject({ bytes: BINARY.byteLength, metadata: { by: "edgekv" } });
    expect((await readFile(back)).equals(BINARY)).toBe(true);
  });

  it("encodes each key as one path segment: slashes, percent signs, spaces, ? and # arrive as written", async () => {
    const key = "a/../b%2F?x=1#frag é";
    expect((await remote(["kv", "put", key, "v", "--env", "site"])).code).toBe(0);
    expect(p.api.namespace(NAMESPACE_IDS.site).has(key)).toBe(true);
    const got = await remote(["kv", "get", key, "--env", "site", "--json"]);
    expect(JSON.parse(got.stdout)).toMatchObject({ key, value: "v" });
  });

  it("refuses a key the URL parser would resolve (..) before any request", async () => {
    const r = await remote(["kv", "put", "..", "v", "--env", "site"]);
    expect(r.code).toBe(2);
    expect(p.api.counts()).toEqual({});
  });
});

describe("cross-check with wrangler kv key --remote through CLOUDFLARE_API_BASE_URL", () => {
  it("what edgekv writes, wrangler reads back identically", async () => {
    const file = join(p.dir, "x.bin");
    await writeFile(file, BINARY);
    expect((await remote(["kv", "put", "cross/edgekv", "--file", file, "--env", "site", "--metadata", '{"from":"edgekv"}'])).code).toBe(0);
    const { stdout } = await wrangler(["get", "cross/edgekv"]);
    expect(stdout.equals(BINARY)).toBe(true);
    const listed = JSON.parse((await wrangler(["list", "--prefix", "cross/"])).stdout.toString()) as { name: string; metadata?: unknown }[];
    expect(listed).toEqual([{ name: "cross/edgekv", metadata: { from: "edgekv" } }]);
  });

  it("what wrangler writes (with metadata), edgekv reads back identically", async () => {
    const file = join(p.dir, "w.bin");
    await writeFile(file, BINARY);
    await wrangler(["put", "cross/wrangler", "--path", file, "--metadata", '{"from":"wrangler"}']);
    const back = join(p.dir, "w-back.bin");
    const r = await remote(["kv", "get", "cross/wrangler", "--env", "site", "--file", back, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ metadata: { from: "wrangler" } });
    expect((await readFile(back)).equals(BINARY)).toBe(true);
    const text = await remote(["kv", "get", "cross/wrangler", "--env", "site"]);
    expect(text.stdoutBytes!.equals(BINARY)).toBe(true);
  });
});

describe("requests per command", () => {
  it("rollout set is two write requests (the history entry, then the config: the claim must land first), token issue one write (its user as metadata), plus reads", async () => {
    const init = await remote(["rollout", "init", "--blue", "https://blue.example", "--green", "https://green.example"]);
    expect(init.code, init.stderr).toBe(0);
    p.api.resetCounts();
    const set = await remote(["rollout", "set", "20"]);
    expect(set.code, set.stderr).toBe(0);
    expect(p.api.writeRequests()).toBe(2);
    const setCounts = p.api.counts();

    p.api.resetCounts();
    const issued = await remote(["token", "issue", "--user", "alice", "--json"]);
    expect(issued.code, issued.stderr).toBe(0);
    expect(p.api.counts()).toEqual({ "PUT values": 1 });
    const stored = [...p.api.namespace(NAMESPACE_IDS.auth).entries()];
    expect(stored.length).toBe(1);
    expect(stored[0]![1].metadata).toEqual({ user: "alice" });
    // The token itself never reaches KV, only its hash.
    expect(JSON.stringify([...p.api.namespace(NAMESPACE_IDS.auth).values()].map((e) => Buffer.from(e.value).toString()))).not.toContain(
      (JSON.parse(issued.stdout) as { token: string }).token,
    );
    console.log(`rollout set: ${JSON.stringify(setCounts)}; token issue: {"PUT values":1}`);
  });

  it("kv list follows cursors across pages of 1000", async () => {
    const ns = p.api.namespace(NAMESPACE_IDS.site);
    for (let i = 0; i < 2500; i++) ns.set(`page/${String(i).padStart(5, "0")}`, { value: Buffer.from("x") });
    const r = await remote(["kv", "list", "--env", "site", "--prefix", "page/"]);
    expect(r.code, r.stderr).toBe(0);
    const names = r.stdout.trim().split("\n");
    expect(names.length).toBe(2500);
    expect(names[0]).toBe("page/00000");
    expect(names.at(-1)).toBe("page/02499");
    expect(p.api.counts()).toEqual({ "GET keys": 3 });
  });

  it("a 429 with Retry-After, and a 503, are retried; the command succeeds", async () => {
    p.api.inject({ route: "PUT values", status: 429, retryAfter: 1, times: 1 });
    p.api.inject({ route: "PUT values", status: 503, times: 1 });
    const t0 = Date.now();
    const r = await remote(["token", "issue", "--user", "bob"]);
    expect(r.code, r.stderr).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(p.api.log.filter((l) => l.route === "PUT values").map((l) => l.status)).toEqual([429, 503, 200]);
  });
});

describe("credentials, account and errors", () => {
  it("a bad token: one line naming the permission, exit 1, the token never printed", async () => {
    const token = "bad-token-0123456789abcdefSECRET";
    const r = await remote(["kv", "get", "k", "--env", "site"], { CLOUDFLARE_API_TOKEN: token });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("Workers KV Storage: Read");
    expect(r.stderr).toContain("HTTP 401");
    expect(r.stderr + r.stdout).not.toContain("SECRET");
  });

  it("a read-only token reads, and a write says it needs Workers KV Storage: Edit", async () => {
    const ro = await remoteProject({ tokens: { "read-only-token": { accounts: "*", permissions: ["kv:read"] } } });
    try {
      const run = (args: string[]) => runCli([...args, "--remote", "--config", ro.config], { env: { ...ro.env, CLOUDFLARE_API_TOKEN: "read-only-token" } });
      const read = await run(["kv", "list", "--env", "site"]);
      expect(read.code, read.stderr).toBe(0);
      const write = await run(["kv", "put", "k", "v", "--env", "site"]);
      expect(write.code).toBe(1);
      expect(write.stderr).toMatch(/HTTP 403.*Workers KV Storage: Edit/);
      expect(write.stderr).not.toContain("read-only-token");
      expect(ro.api.namespace(NAMESPACE_IDS.site).size).toBe(0);
    } finally {
      await ro.close();
    }
  });

  it("without CLOUDFLARE_ACCOUNT_ID: the token's only account is used; with several, an error lists them", async () => {
    const one = await remote(["kv", "list", "--env", "site"], { CLOUDFLARE_ACCOUNT_ID: "" });
    expect(one.code, one.stderr).toBe(0);
    const two = await remoteProject({
      accounts: [
        { id: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", name: "Prod" },
        { id: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", name: "Staging" },
      ],
    });
    try {
      const r = await runCli(["kv", "list", "--env", "site", "--remote", "--config", two.config], { env: { ...two.env, CLOUDFLARE_ACCOUNT_ID: "" } });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("CLOUDFLARE_ACCOUNT_ID");
      expect(r.stderr).toContain("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa (Prod)");
      expect(r.stderr).toContain("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb (Staging)");
      const chosen = await runCli(["kv", "put", "k", "v", "--env", "site", "--remote", "--config", two.config], {
        env: { ...two.env, CLOUDFLARE_ACCOUNT_ID: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" },
      });
      expect(chosen.code, chosen.stderr).toBe(0);
      expect(two.api.namespace(NAMESPACE_IDS.site, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb").has("k")).toBe(true);
    } finally {
      await two.close();
    }
  });

  it.each([
    ["http://api.example.com/client/v4", "must be https"],
    ["https://user:pw@api.example.com/client/v4", "must not hold credentials"],
    ["not a url", "not a URL"],
  ])("refuses CLOUDFLARE_API_BASE_URL=%s before sending the token", async (base, message) => {
    const r = await remote(["kv", "get", "k", "--env", "site"], { CLOUDFLARE_API_BASE_URL: base });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toContain(p.api.token);
  });

  it("without CLOUDFLARE_API_TOKEN it asks wrangler (auth token --json) and says how to log in when there is nothing", async () => {
    const r = await remote(["kv", "get", "k", "--env", "site"], { CLOUDFLARE_API_TOKEN: "" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no Cloudflare credentials: set CLOUDFLARE_API_TOKEN");
    expect(r.stderr).toContain("(wrangler: Not logged in");
    expect(p.api.counts()).toEqual({});
  });

  it("without CLOUDFLARE_API_TOKEN the token of `wrangler login` is used (read from wrangler's stdout, never put on argv)", async () => {
    const oauth = await remoteProject({ tokens: { "oauth-token-from-login": { accounts: "*", permissions: ["kv:read", "kv:write"] } } });
    try {
      await mkdir(join(oauth.dir, "xdg", ".wrangler", "config"), { recursive: true });
      await writeFile(
        join(oauth.dir, "xdg", ".wrangler", "config", "default.toml"),
        'oauth_token = "oauth-token-from-login"\nexpiration_time = "2099-01-01T00:00:00.000Z"\nrefresh_token = "unused"\nscopes = ["account:read"]\n',
      );
      const r = await runCli(["kv", "put", "k", "v", "--env", "site", "--remote", "--config", oauth.config], {
        env: { ...oauth.env, CLOUDFLARE_API_TOKEN: "" },
      });
      expect(r.code, r.stderr).toBe(0);
      expect(oauth.api.namespace(NAMESPACE_IDS.site).has("k")).toBe(true);
      expect(r.stdout + r.stderr).not.toContain("oauth-token-from-login");
    } finally {
      await oauth.close();
    }
  });

  it("a local namespace id is refused with what to do", async () => {
    const r = await runCli(["kv", "get", "k", "--env", "site", "--remote"], { env: p.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no real namespace id");
  });
});
