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
    expect(keys.map((k) => k.name).sort()).toEqual([`tok/${hash}`, `user/alice/${hash}`]);
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

  it("revoke TOKEN, --id and --user delete records and index entries", async () => {
    const t1 = (await cli(["token", "issue", "--user", "dave", ...p()])).stdout.trim();
    const t2 = (await cli(["token", "issue", "--user", "dave", ...p()])).stdout.trim();
    const t3 = (await cli(["token", "issue", "--user", "dave", ...p()])).stdout.trim();
    const r1 = await cli(["token", "revoke", t1, ...p()]);
    expect(r1.code).toBe(0);
    expect(r1.stdout).toContain("revoked");
    expect((await cli(["token", "revoke", t1, ...p()])).code).toBe(1);
    const id2 = createHash("sha256").update(t2).digest("hex").slice(0, 12);
    expect((await cli(["token", "revoke", "--id", id2, ...p()])).code).toBe(0);
    const left = JSON.parse((await cli(["token", "list", "--user", "dave", "--json", ...p()])).stdout) as { id: string }[];
    expect(left.map((x) => x.id)).toEqual([createHash("sha256").update(t3).digest("hex").slice(0, 12)]);
    await cli(["token", "issue", "--user", "dave", ...p()]);
    const all = await cli(["token", "revoke", "--user", "dave", "--json", ...p()]);
    expect(JSON.parse(all.stdout)).toEqual({ user: "dave", revoked: 2 });
    expect((await rawKeys()).filter((k) => k.name.includes("dave"))).toEqual([]);
  });

  it("bad input is a one-line error with a non-zero exit, and writes nothing", async () => {
    const before = (await rawKeys()).length;
    const cases: [string[], number, string][] = [
      [["token", "issue"], 2, "--user is required"],
      [["token", "issue", "--user", "a/b"], 1, "user must be"],
      [["token", "issue", "--user", "x", "--scope", "GET /api"], 1, "a scope is METHOD:/glob"],
      [["token", "issue", "--user", "x", "--ttl", "30"], 2, "--ttl must be at least 60"],
      [["token", "revoke", "ekv_notatoken", ...[]], 2, "not an edgekv token"],
      [["token", "revoke"], 2, "exactly one of"],
      [["token", "revoke", "--id", "xyz"], 2, "--id takes"],
    ];
    for (const [args, code, message] of cases) {
      const r = await cli([...args, ...p()]);
      expect(r.code, args.join(" ")).toBe(code);
      expect(r.stderr).toContain(message);
    }
    expect((await rawKeys()).length).toBe(before);
  });
});
