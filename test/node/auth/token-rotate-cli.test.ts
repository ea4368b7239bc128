/**
 * `edgekv token rotate` against local TOKENS_KV (issue 24): the new token on
 * stdout only, once; the chain in `token list`; the refusals.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, runCli } from "../helpers/cli.ts";

let dir: string;
const p = () => ["--persist-to", dir];
const idOf = (t: string) => createHash("sha256").update(t).digest("hex").slice(0, 12);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-token-rotate-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("edgekv token rotate", () => {
  it("prints the new token once on stdout (the real binary), copies user, scopes and label, and list shows the chain", async () => {
    const old = (await cli(["token", "issue", "--user", "erin", "--ttl", "7200", "--scope", "GET:/api/*", "--name", "deploy", ...p()])).stdout.trim();
    const r = await runCli(["token", "rotate", "--id", idOf(old), "--grace", "24h", ...p()]);
    expect(r.code, r.stderr).toBe(0);
    const token = r.stdout.trim();
    expect(token).toMatch(/^ekv_[0-9A-Za-z]{30}$/);
    expect(r.stdout).toBe(`${token}\n`);
    expect(r.stderr).not.toContain(token);
    expect(r.stderr).toContain(`rotated ${idOf(old)} -> ${idOf(token)}`);
    const list = await cli(["token", "list", "--user", "erin", "--json", ...p()]);
    const rows = JSON.parse(list.stdout) as {
      id: string;
      scopes: string[];
      label: string;
      rotatedFrom: string | null;
      rotatedTo: string | null;
      issuedAt: string;
      expiresAt: string;
    }[];
    const next = rows.find((x) => x.id === idOf(token))!;
    const prev = rows.find((x) => x.id === idOf(old))!;
    expect(next).toMatchObject({ scopes: ["GET:/api/*"], label: "deploy", rotatedFrom: idOf(old), rotatedTo: null });
    expect(Date.parse(next.expiresAt) - Date.parse(next.issuedAt)).toBe(7200_000);
    // A grace past the old expiry keeps the old expiry (never lengthened).
    expect(prev).toMatchObject({ rotatedTo: idOf(token) });
    expect(Date.parse(prev.expiresAt) - Date.parse(prev.issuedAt)).toBe(7200_000);
    const table = await cli(["token", "list", "--user", "erin", ...p()]);
    expect(table.stdout).toContain(`-> ${idOf(token)}`);
    expect(table.stdout).toContain(`<- ${idOf(old)}`);
    expect(table.stdout).not.toContain(token);
  });

  it("refuses an already rotated token, a revoked one, an unknown id and bad graces, and writes nothing", async () => {
    const a = (await cli(["token", "issue", "--user", "fay", ...p()])).stdout.trim();
    const b = (await cli(["token", "rotate", "--id", idOf(a), "--grace", "1h", ...p()])).stdout.trim();
    const c = (await cli(["token", "issue", "--user", "fay", ...p()])).stdout.trim();
    expect((await cli(["token", "revoke", "--id", idOf(c), ...p()])).code).toBe(0);
    const before = (await cli(["kv", "list", "--env", "auth", "--json", ...p()])).stdout;
    for (const [args, message] of [
      [["--id", idOf(a)], /already rotated to/],
      [["--id", idOf(c)], /no live token/],
      [["--id", "0123456789ab"], /no live token/],
      [["--id", "nothex"], /--id takes/],
      [[], /--id takes/],
      [["--id", idOf(b), "--grace", "31d"], /grace is 0..30d/],
      [["--id", idOf(b), "--grace=-1h"], /grace/],
      [["--id", idOf(b), "--grace", "soon"], /grace/],
    ] as const) {
      const r = await cli(["token", "rotate", ...args, ...p()]);
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.stderr, args.join(" ")).toMatch(message);
      expect(r.stdout).toBe("");
    }
    expect((await cli(["kv", "list", "--env", "auth", "--json", ...p()])).stdout).toBe(before);
  });

  it("--grace 0 cuts the old token now: the next list no longer shows it", async () => {
    const a = (await cli(["token", "issue", "--user", "gus", ...p()])).stdout.trim();
    const b = (await cli(["token", "rotate", "--id", idOf(a), "--grace", "0", ...p()])).stdout.trim();
    const rows = JSON.parse((await cli(["token", "list", "--user", "gus", "--json", ...p()])).stdout) as { id: string }[];
    expect(rows.map((x) => x.id)).toEqual([idOf(b)]);
  });
});
