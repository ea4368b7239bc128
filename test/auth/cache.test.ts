import { describe, expect, it } from "vitest";
import { KvOps, parseKvServerTiming } from "../../shared/kv/index.ts";
import { CACHE_MAX_ENTRIES, DEFAULT_ALLOW_CACHE_SECONDS, NEGATIVE_CACHE_MS } from "../../workers/auth/config.ts";
import { generateToken } from "../../workers/auth/token.ts";
import { bearer, countingKv, makeGate } from "./helpers.ts";

const timing = (res: Response) => parseKvServerTiming(res.headers.get("Server-Timing"))!;
const ALLOW_MS = DEFAULT_ALLOW_CACHE_SECONDS * 1000;

describe("expiry is checked from the value, with the injected clock", () => {
  it("a token is refused from expiresAt on, although KV still holds it", async () => {
    const g = makeGate();
    const { token, record } = await g.issue({ ttlSeconds: 3600 });
    g.clock.t = record.expiresAt - 1;
    expect((await g.fetch("/x", bearer(token))).status).toBe(200);
    g.clock.t = record.expiresAt;
    const res = await g.fetch("/x", bearer(token));
    expect(res.status).toBe(401);
    expect(res.headers.get("WWW-Authenticate")).toContain('error="invalid_token"');
    expect(JSON.parse(g.logs.at(-1)!)).toMatchObject({ reason: "expired token" });
    expect(g.received).toHaveLength(1);
  });

  it("the allow cache never holds an entry past the token's expiry", async () => {
    const g = makeGate();
    const { token, record } = await g.issue({ ttlSeconds: 3600 });
    // 2 s before expiry: the entry may live only 2 s, not the usual 10 s.
    g.clock.t = record.expiresAt - 2_000;
    expect((await g.fetch("/x", bearer(token))).status).toBe(200);
    g.clock.t += 1_000;
    const hit = await g.fetch("/x", bearer(token));
    expect(hit.status).toBe(200);
    expect(timing(hit)).toMatchObject({ reads: 0, hits: 1 });
    g.clock.t = record.expiresAt + 1;
    const after = await g.fetch("/x", bearer(token));
    expect(after.status).toBe(401);
    // The cached entry had expired by itself: this decision went back to KV.
    expect(timing(after)).toMatchObject({ reads: 1, hits: 0 });
  });
});

describe("isolate cache and the revocation bound", () => {
  it("serves repeated allows from the isolate (no KV read), per token hash", async () => {
    const g = makeGate();
    const { token } = await g.issue();
    expect(timing(await g.fetch("/x", bearer(token)))).toMatchObject({ reads: 1, hits: 0 });
    expect(timing(await g.fetch("/y", bearer(token)))).toMatchObject({ reads: 0, hits: 1 });
  });

  it(`a revocation made elsewhere takes effect within the allow TTL (${DEFAULT_ALLOW_CACHE_SECONDS} s) locally`, async () => {
    const g = makeGate();
    const { token, hash } = await g.issue();
    expect((await g.fetch("/x", bearer(token))).status).toBe(200);
    await g.issuer.revokeHash(hash); // another process (the CLI), not this isolate's store
    g.clock.t += ALLOW_MS - 1;
    expect((await g.fetch("/x", bearer(token))).status).toBe(200); // still inside the stated bound
    g.clock.t += 2;
    expect((await g.fetch("/x", bearer(token))).status).toBe(401);
  });

  it(`unknown hashes are held for ${NEGATIVE_CACHE_MS} ms, shorter than allows`, async () => {
    const g = makeGate();
    const token = generateToken();
    expect(timing(await g.fetch("/x", bearer(token)))).toMatchObject({ reads: 1 });
    expect(timing(await g.fetch("/x", bearer(token)))).toMatchObject({ reads: 0, hits: 1 });
    g.clock.t += NEGATIVE_CACHE_MS + 1;
    expect(timing(await g.fetch("/x", bearer(token)))).toMatchObject({ reads: 1, hits: 0 });
    expect(NEGATIVE_CACHE_MS).toBeLessThan(ALLOW_MS);
  });

  it("ALLOW_CACHE_SECONDS=0 turns the isolate cache off (every decision reads KV)", async () => {
    const g = makeGate({ ALLOW_CACHE_SECONDS: "0" });
    const { token } = await g.issue();
    expect(timing(await g.fetch("/x", bearer(token)))).toMatchObject({ reads: 1 });
    expect(timing(await g.fetch("/x", bearer(token)))).toMatchObject({ reads: 1, hits: 0 });
  });

  it(`the cache is bounded (${CACHE_MAX_ENTRIES} entries, least recently used evicted)`, async () => {
    const g = makeGate();
    const { token } = await g.issue();
    expect((await g.fetch("/x", bearer(token))).status).toBe(200);
    // Flood with unknown (well-formed) tokens: each takes a negative entry.
    for (let i = 0; i < CACHE_MAX_ENTRIES; i++) await g.deps.tokens.read(`${i}`.padStart(64, "0"), new KvOps());
    expect(timing(await g.fetch("/x", bearer(token)))).toMatchObject({ reads: 1, hits: 0 });
  });
});

describe("KV failing: the gate fails closed", () => {
  it("503 with Retry-After, origin untouched, when KV throws", async () => {
    const { kv, calls } = countingKv({ fail: true });
    const g = makeGate({}, { kv });
    const { token } = await g.issue();
    const res = await g.fetch("/x", bearer(token));
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toBe("5");
    expect(res.headers.get("WWW-Authenticate")).toBe('Bearer realm="edgekv"');
    expect(((await res.json()) as { error: string }).error).toBe("kv_unavailable");
    expect(calls).toEqual(["get"]);
    expect(g.received).toEqual([]);
    expect(JSON.parse(g.logs[0]!)).toMatchObject({ decision: "error", status: 503 });
  });

  it("no stale-on-error: an expired allow entry is not served when KV fails", async () => {
    let failing = false;
    const { kv: real } = countingKv();
    const kv = new Proxy(real, {
      get(t, p, r) {
        const v = Reflect.get(t, p, r) as unknown;
        if (typeof v !== "function") return v;
        return (...a: unknown[]) => (failing ? Promise.reject(new Error("down")) : (v as (...x: unknown[]) => unknown).apply(t, a));
      },
    });
    const g = makeGate({}, { kv });
    const { token } = await g.issue();
    expect((await g.fetch("/x", bearer(token))).status).toBe(200);
    failing = true;
    g.clock.t += ALLOW_MS + 1;
    expect((await g.fetch("/x", bearer(token))).status).toBe(503);
    expect(g.received).toHaveLength(1);
  });

  it("a record that fails validation is a 503, never an allow", async () => {
    const { env } = await import("cloudflare:workers");
    const g = makeGate();
    const { token, hash } = await g.issue();
    await env.TOKENS_KV.put(`tok/${hash}`, JSON.stringify({ user: "x", scopes: "all" }));
    const res = await g.fetch("/x", bearer(token));
    expect(res.status).toBe(503);
    expect(g.received).toEqual([]);
  });
});
