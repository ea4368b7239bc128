/**
 * Issue 24, rotation with overlap, in workerd on the real local TOKENS_KV:
 * the shared writer's `rotate` (writes counted on the real binding), the admin
 * API's POST /__edgekv/tokens/:hash/rotate, the chain, the refusals, and the
 * bound: a rotated token is refused at grace + ALLOW_CACHE_SECONDS at the latest.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TokenRecordSchema } from "../../workers/auth/model.ts";
import { hashToken } from "../../workers/auth/token.ts";
import { MAX_GRACE_SECONDS, parseGrace, TokenStateError, TokenWriter } from "../../shared/tokens/write.ts";
import { countingKv, makeGate } from "../auth/helpers.ts";
import { bearer, makeControl, uniqueUser } from "./helpers.ts";

const SECRET = "admin-secret-for-tests-0123456789abcdef";
const admin = { Authorization: `Bearer ${SECRET}` };
const H = 3600;

/** A writer on the real binding that records every put and delete. */
function countedWriter(now: () => number) {
  const { kv, calls } = countingKv();
  return { tokens: new TokenWriter(kv, { now }), calls, writes: () => calls.filter((c) => c === "put" || c === "delete").length };
}

describe("rotate (shared/tokens/write.ts)", () => {
  it("issues a copy with a fresh expiry of the same lifetime, cuts the old one to now + grace, and the records name each other", async () => {
    const clock = { t: Date.now() };
    const w = countedWriter(() => clock.t);
    const user = uniqueUser("rot");
    const first = await w.tokens.issue({ user, scopes: ["GET:/api/*"], ttlSeconds: 2 * H, label: "ci" });
    clock.t += 30 * 60_000;
    const before = w.calls.length;
    const r = await w.tokens.rotate(first.hash, 600);
    const calls = w.calls.slice(before);
    // Exactly 2 KV writes: the new record, then the old one cut; no second key per token.
    expect(calls.filter((c) => c === "put" || c === "delete")).toEqual(["put", "put"]);
    expect(calls.filter((c) => c === "list")).toEqual([]);
    expect(r.record).toMatchObject({
      user,
      scopes: ["GET:/api/*"],
      label: "ci",
      issuedAt: clock.t,
      expiresAt: clock.t + 2 * H * 1000,
      rotatedFrom: first.record.id,
    });
    expect(r.record.rotatedTo).toBeUndefined();
    expect(r.old).toMatchObject({ id: first.record.id, expiresAt: clock.t + 600_000, rotatedTo: r.record.id });
    // What KV holds parses with the one schema, both ways round.
    for (const h of [first.hash, r.hash]) {
      const stored = await env.TOKENS_KV.get(`tok/${h}`, "json");
      expect(TokenRecordSchema["~standard"].validate(stored)).toEqual({ value: stored });
    }
    // The per-user index is each record's list metadata.
    for (const h of [first.hash, r.hash]) expect((await env.TOKENS_KV.getWithMetadata(`tok/${h}`)).metadata).toEqual({ user });
    expect((await env.TOKENS_KV.list({ prefix: `user/${user}/` })).keys).toEqual([]);
    expect((await hashToken(r.token)).hash).toBe(r.hash);
  });

  it("never lengthens the old token: a grace past its expiry keeps its expiry; --grace 0 means now", async () => {
    const clock = { t: Date.now() };
    const w = countedWriter(() => clock.t);
    const a = await w.tokens.issue({ user: uniqueUser(), ttlSeconds: 120 });
    const ra = await w.tokens.rotate(a.hash, 3 * H);
    expect(ra.old.expiresAt).toBe(a.record.expiresAt);
    const b = await w.tokens.issue({ user: uniqueUser(), ttlSeconds: H });
    const rb = await w.tokens.rotate(b.hash, 0);
    expect(rb.old.expiresAt).toBe(clock.t);
  });

  it("a chain rotated twice links each step; the rotated token, an expired one and a revoked one cannot be rotated, and nothing is written", async () => {
    const clock = { t: Date.now() };
    const w = countedWriter(() => clock.t);
    const a = await w.tokens.issue({ user: uniqueUser("ch"), ttlSeconds: H });
    const b = await w.tokens.rotate(a.hash, 60);
    const c = await w.tokens.rotate(b.hash, 60);
    expect(c.record.rotatedFrom).toBe(b.record.id);
    expect(c.old).toMatchObject({ id: b.record.id, rotatedFrom: a.record.id, rotatedTo: c.record.id });
    const refusals: [string, RegExp][] = [
      [a.hash, /already rotated to/],
      [b.hash, /already rotated to/],
      ["0".repeat(64), /no such token/],
    ];
    const expired = await w.tokens.issue({ user: uniqueUser(), ttlSeconds: 60 });
    const revoked = await w.tokens.issue({ user: uniqueUser(), ttlSeconds: 60 });
    await w.tokens.revokeHash(revoked.hash);
    refusals.push([revoked.hash, /no such token/]);
    const n = w.writes();
    for (const [hash, message] of refusals) {
      const err = await w.tokens.rotate(hash, 60).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TokenStateError);
      expect((err as Error).message).toMatch(message);
    }
    clock.t += 61_000;
    await expect(w.tokens.rotate(expired.hash, 0)).rejects.toThrow(/expired at/);
    expect(w.writes()).toBe(n);
  });

  it("the grace is bounded and parsed strictly", () => {
    expect([parseGrace("0"), parseGrace("90s"), parseGrace("30m"), parseGrace("24h"), parseGrace("30d"), parseGrace(600)]).toEqual([
      0,
      90,
      1800,
      86400,
      MAX_GRACE_SECONDS,
      600,
    ]);
    for (const bad of ["31d", "-1", "1.5h", "24 h", "h", "", "1e3", "0x10", "24H", "720h1", String(MAX_GRACE_SECONDS + 1), -5, 1.5, Number.NaN]) {
      expect(() => parseGrace(bad), String(bad)).toThrow(/grace/);
    }
  });
});

describe("rotate through the admin API, and the gate's bound", () => {
  it("POST /__edgekv/tokens/:hash/rotate answers the new token once; bad input is a 4xx that writes nothing", async () => {
    const g = makeControl({ ADMIN_SECRET: SECRET });
    const first = await g.issue({ user: uniqueUser("api"), scopes: ["GET:/x/*"], ttlSeconds: H });
    const res = await g.fetch(`/__edgekv/tokens/${first.hash}/rotate`, { method: "POST", headers: admin, body: JSON.stringify({ grace: "1h" }) });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { token: string; hash: string; rotatedFrom: string; old: { rotatedTo: string; expiresAt: number } };
    expect(body.rotatedFrom).toBe(first.record.id);
    expect(body.old.expiresAt).toBe(g.clock.t + H * 1000);
    expect((await g.fetch("/x/1", bearer(body.token))).status).toBe(200);
    expect((await g.fetch("/x/1", bearer(first.token))).status).toBe(200);
    for (const [path, init, status] of [
      [`/__edgekv/tokens/${first.hash}/rotate`, {}, 409],
      [`/__edgekv/tokens/${"f".repeat(64)}/rotate`, {}, 409],
      [`/__edgekv/tokens/${body.hash}/rotate`, { body: '{"grace":"31d"}' }, 400],
      [`/__edgekv/tokens/${body.hash}/rotate`, { body: '{"grace":-1}' }, 400],
      [`/__edgekv/tokens/${body.hash}/rotate`, { body: '{"grace":true}' }, 400],
      [`/__edgekv/tokens/${body.hash}/rotate`, { body: "[1]" }, 400],
      [`/__edgekv/tokens/${body.hash}/rotate`, { body: "nope" }, 400],
      [`/__edgekv/tokens/${body.hash}/rotate`, { body: `{"grace":"${"9".repeat(9000)}"}` }, 413],
      ["/__edgekv/tokens/not-a-hash/rotate", {}, 400],
    ] as const) {
      const r = await g.fetch(path, { method: "POST", headers: admin, ...init });
      expect(r.status, `${path} ${"body" in init ? init.body.slice(0, 30) : ""}`).toBe(status);
    }
    // The new token was not rotated by any of those.
    expect(await env.TOKENS_KV.get(`tok/${body.hash}`, "json")).not.toHaveProperty("rotatedTo");
    expect((await g.fetch(`/__edgekv/tokens/${body.hash}/rotate`, { method: "POST", body: "{}" })).status).toBe(401);
  });

  it("the old token is allowed until now + grace, refused after it, and refused at grace + ALLOW_CACHE_SECONDS at the latest where a gate cached it", async () => {
    const CACHE = 5;
    const gate = makeGate({ ALLOW_CACHE_SECONDS: String(CACHE) });
    const writer = new TokenWriter(env.TOKENS_KV, { now: () => gate.clock.t });
    const grace = 60;
    // Cached before the rotation (the worst case): the gate holds the old expiry for up to ALLOW_CACHE_SECONDS.
    const cached = await writer.issue({ user: uniqueUser("b"), ttlSeconds: H });
    expect((await gate.fetch("/p", bearer(cached.token))).status).toBe(200);
    const t0 = gate.clock.t;
    const r1 = await writer.rotate(cached.hash, grace);
    // Never cached before: read after the rotation, refused exactly at the grace.
    const fresh = await writer.issue({ user: uniqueUser("b"), ttlSeconds: H });
    const r2 = await writer.rotate(fresh.hash, grace);
    for (const t of [fresh.token, cached.token, r1.token, r2.token]) expect((await gate.fetch("/p", bearer(t))).status).toBe(200);
    gate.clock.t = t0 + grace * 1000 - 1;
    expect((await gate.fetch("/p", bearer(cached.token))).status).toBe(200);
    expect((await gate.fetch("/p", bearer(fresh.token))).status).toBe(200);
    gate.clock.t = t0 + grace * 1000;
    expect((await gate.fetch("/p", bearer(fresh.token))).status).toBe(401);
    gate.clock.t = t0 + (grace + CACHE) * 1000;
    expect((await gate.fetch("/p", bearer(cached.token))).status).toBe(401);
    for (const t of [r1.token, r2.token]) expect((await gate.fetch("/p", bearer(t))).status).toBe(200);
  });
});
