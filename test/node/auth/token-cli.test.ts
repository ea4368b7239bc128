import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, runCli } from "../helpers/cli.ts";

let dir: string;
const p = () => ["--persist-to", dir];
const T0 = Date.UTC(2030, 0, 1);
const now = () => T0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-token-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rawKeys(): Promise<{ name: string; expiration?: number }[]> {
  const r = await cli(["kv", "list", "--env", "auth", "--json", ...p()]);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as { name: string; expiration?: number }[];
}

describe("edgekv token (CLI against local TOKENS_KV)", () => {
  it("issue prints the token once on stdout; KV holds only its SHA-256, with expiration", async () => {
    const r = await runCli(["token", "issue", "--user", "alice", "--ttl", "120", "--scope", "GET:/api/*", "--name", "laptop", ...p()]);
    expect(r.code).toBe(0);
    const token = r.stdout.trim();
    expect(token).toMatch(/^ekv_[0-9A-Za-z]{30}$/);
    expect(r.stderr).toContain("for alice (GET:/api/*)");
    const hash = createHash("sha256").update(token).digest("hex");
    const keys = await rawKeys();
    // One key per token (its user is the key's list metadata): issue is 1 write.
    expect(keys.map((k) => k.name)).toEqual([`tok/${hash}`]);
    for (const k of keys) {
      expect(k.name).not.toContain(token);
      // expirationTtl was set: KV deletes the key by itself (~now + 120 s).
      expect(k.expiration).toBeGreaterThan(Date.now() / 1000 + 100);
      expect(k.expiration).toBeLessThan(Date.now() / 1000 + 200);
    }
    const value = await cli(["kv", "get", `tok/${hash}`, "--env", "auth", ...p()]);
    expect(value.stdout).not.toContain(token);
    const record = JSON.parse(value.stdout) as Record<string, unknown>;
    expect(record).toMatchObject({ user: "alice", scopes: ["GET:/api/*"], label: "laptop", id: hash.slice(0, 12) });
    expect((record.expiresAt as number) - (record.issuedAt as number)).toBe(120_000);
  });

  it("issue --json uses the injected clock and defaults to one hour", async () => {
    const r = await cli(["token", "issue", "--user", "bob", "--json", ...p()], { now });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { token: string; expiresAt: string; issuedAt: string; scopes: string[] };
    expect(out.issuedAt).toBe(new Date(T0).toISOString());
    expect(out.expiresAt).toBe(new Date(T0 + 3600_000).toISOString());
    expect(out.scopes).toEqual([]);
  });

  it("list shows ids, labels, scopes and expiry, never secrets or hashes", async () => {
    const issued = await cli(["token", "issue", "--user", "carol", "--name", "ci", ...p()]);
    const token = issued.stdout.trim();
    const hash = createHash("sha256").update(token).digest("hex");
    const r = await cli(["token", "list", "--user", "carol", "--json", ...p()]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: hash.slice(0, 12), user: "carol", label: "ci", scopes: [] });
    expect(r.stdout).not.toContain(token);
    expect(r.stdout).not.toContain(hash);
    const all = await cli(["token", "list", ...p()]);
    expect(all.stdout).toContain("carol");
    expect(all.stdout).toContain("alice");
  });

  it("revoke --stdin (binary and in-process), --id and --user delete records and index entries", async () => {
    const t1 = (await cli(["token", "issue", "--user", "dave", ...p()])).stdout.trim();
    const t2 = (await cli(["token", "issue", "--user", "dave", ...p()])).stdout.trim();
    const t3 = (await cli(["token", "issue", "--user", "dave", ...p()])).stdout.trim();
    const t4 = (await cli(["token", "issue", "--user", "dave", ...p()])).stdout.trim();
    const idOf = (t: string) => createHash("sha256").update(t).digest("hex").slice(0, 12);
    // The real binary, the token piped in with echo's newline.
    const r1 = await runCli(["token", "revoke", "--stdin", ...p()], { input: `${t1}\n` });
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stdout).toBe(`revoked ${idOf(t1)} of dave\n`);
    expect(r1.stdout + r1.stderr).not.toContain(t1);
    expect((await cli(["token", "revoke", "--stdin", ...p()], { input: t1 })).code).toBe(1);
    // A pipe with no selector is read too (as `wrangler secret put` reads it).
    const r4 = await runCli(["token", "revoke", ...p()], { input: `  ${t4}\r\n` });
    expect(r4.code, r4.stderr).toBe(0);
    expect((await cli(["token", "revoke", "--id", idOf(t2), ...p()])).code).toBe(0);
    const left = JSON.parse((await cli(["token", "list", "--user", "dave", "--json", ...p()])).stdout) as { id: string }[];
    expect(left.map((x) => x.id)).toEqual([idOf(t3)]);
    await cli(["token", "issue", "--user", "dave", ...p()]);
    const unconfirmed = await cli(["token", "revoke", "--user", "dave", "--json", ...p()]);
    expect(unconfirmed.code).toBe(2);
    expect(JSON.parse(unconfirmed.stdout)).toMatchObject({ ok: false, error: { code: "confirmation_required" } });
    const all = await cli(["token", "revoke", "--user", "dave", "--json", "--yes", ...p()]);
    expect(JSON.parse(all.stdout)).toEqual({ user: "dave", revoked: 2 });
    expect((await rawKeys()).filter((k) => k.name.includes("dave"))).toEqual([]);
  });

  it("a token as an argument is refused (exit 2, one line naming the safe forms), never echoed, and stays live", async () => {
    const token = (await cli(["token", "issue", "--user", "erin", ...p()])).stdout.trim();
    const r = await runCli(["token", "revoke", token, ...p()]);
    expect(r.code).toBe(2);
    const [first, ...rest] = r.stderr.trimEnd().split("\n");
    expect(first).toMatch(/^edgekv: a token on the command line is kept by ps and shell history.*--stdin.*--id ID.*--user ID/);
    expect(rest).toEqual(["run with --help for usage"]);
    expect(r.stdout).toBe("");
    expect(r.stderr).not.toContain(token);
    const live = JSON.parse((await cli(["token", "list", "--user", "erin", "--json", ...p()])).stdout) as unknown[];
    expect(live).toHaveLength(1);
  });

  it("bad input is a one-line error with a non-zero exit, and writes nothing", async () => {
    const before = (await rawKeys()).length;
    const terminal = { isTTY: true, read: () => Promise.reject(new Error("a terminal must not be read")) };
    const cases: [string[], number, string, Parameters<typeof cli>[1]?][] = [
      [["token", "issue"], 2, "--user is required"],
      [["token", "issue", "--user", "a/b"], 2, "--user: user must be"],
      [["token", "issue", "--user", "bad user!"], 2, "--user: user must be"],
      [["token", "issue", "--user", "x", "--scope", "GET /api"], 2, "--scope: a scope is METHOD:/glob"],
      [["token", "issue", "--user", "x", "--ttl", "30"], 2, "--ttl must be at least 60"],
      [["token", "revoke", "ekv_notatoken"], 2, "a token on the command line"],
      [["token", "revoke", "-"], 2, "a token on the command line"],
      [["token", "revoke"], 2, "exactly one of --id ID, --user ID or --stdin", { stdin: terminal }],
      [["token", "revoke", "--stdin"], 2, "stdin is a terminal", { stdin: terminal }],
      [["token", "revoke"], 2, "no token on stdin", { input: "" }],
      [["token", "revoke", "--stdin"], 2, "no token on stdin", { input: "\n \n" }],
      [["token", "revoke", "--stdin"], 2, "stdin does not hold an edgekv token", { input: "ekv_notatoken\n" }],
      [["token", "revoke", "--stdin"], 1, "more than 8192 bytes", { input: "x".repeat(9000) }],
      [["token", "revoke", "--stdin", "--user", "x"], 2, "exactly one of"],
      [["token", "revoke", "--id", "xyz"], 2, "--id takes"],
    ];
    for (const [args, code, message, options] of cases) {
      const r = await cli([...args, ...p()], options);
      expect(r.code, args.join(" ")).toBe(code);
      expect(r.stderr).toContain(message);
    }
    expect((await rawKeys()).length).toBe(before);
  });
});
