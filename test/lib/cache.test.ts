import { env } from "cloudflare:workers";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import {
  EdgeKvError,
  KvCoreReader,
  KvLimitError,
  KvOps,
  KvReader,
  KvStore,
  KvUnavailableError,
  KvUnsupportedError,
  KvValidationError,
  json,
  stream,
  text,
} from "../../shared/kv/index.ts";
import { faulty } from "./helpers.ts";

const Config = v.object({ percent: v.pipe(v.number(), v.minValue(0), v.maxValue(100)) });

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

let n = 0;
const fresh = () => `c${++n}:`;

describe("isolate read-through cache", () => {
  it("serves repeated reads from the isolate within the TTL: no KV read", async () => {
    const f = faulty(env.TEST_KV);
    const c = clock();
    const store = new KvStore(f.kv, { prefix: fresh(), codec: json(Config), now: c.now, cache: { ttlMs: 5_000, maxEntries: 10 } });
    await env.TEST_KV.put(`${store.prefix}cfg`, '{"percent":10}');
    const ops = new KvOps();
    expect(await store.get("cfg", { ops })).toEqual({ percent: 10 });
    c.advance(4_999);
    expect(await store.getWithMetadata("cfg", { ops })).toMatchObject({ value: { percent: 10 }, cached: true, stale: false });
    expect(f.calls.getWithMetadata).toBe(1);
    expect([ops.reads, ops.cacheHits]).toEqual([1, 1]);
  });

  it("reads KV again once the TTL passes, and sees a change", async () => {
    const f = faulty(env.TEST_KV);
    const c = clock();
    const store = new KvStore(f.kv, { prefix: fresh(), codec: json(Config), now: c.now, cache: { ttlMs: 5_000, maxEntries: 10 } });
    await env.TEST_KV.put(`${store.prefix}cfg`, '{"percent":10}');
    await store.get("cfg");
    await env.TEST_KV.put(`${store.prefix}cfg`, '{"percent":20}');
    expect(await store.get("cfg")).toEqual({ percent: 10 });
    c.advance(5_001);
    expect(await store.get("cfg")).toEqual({ percent: 20 });
    expect(f.calls.getWithMetadata).toBe(2);
  });

  it("is bounded: the least recently used entry goes first", async () => {
    const f = faulty(env.TEST_KV);
    const store = new KvStore(f.kv, { prefix: fresh(), codec: text(), cache: { ttlMs: 60_000, maxEntries: 2 } });
    await Promise.all(["a", "b", "c"].map((k) => env.TEST_KV.put(`${store.prefix}${k}`, k)));
    await store.get("a");
    await store.get("b");
    await store.get("a"); // a is now most recent
    await store.get("c"); // evicts b
    const before = f.calls.getWithMetadata;
    await store.get("a");
    await store.get("c");
    expect(f.calls.getWithMetadata).toBe(before);
    await store.get("b");
    expect(f.calls.getWithMetadata).toBe(before + 1);
  });

  it("stale-on-error: when KV throws and an expired entry is held, returns it and reports it stale", async () => {
    const f = faulty(env.TEST_KV);
    const c = clock();
    const store = new KvStore(f.kv, { prefix: fresh(), codec: json(Config), now: c.now, cache: { ttlMs: 1_000, maxEntries: 10, staleOnError: true } });
    await env.TEST_KV.put(`${store.prefix}cfg`, '{"percent":30}');
    await store.get("cfg");
    c.advance(2_000);
    f.breakAll();
    const ops = new KvOps();
    const got = await store.getWithMetadata("cfg", { ops });
    expect(got).toMatchObject({ value: { percent: 30 }, stale: true, cached: true });
    expect(got.error).toBeInstanceOf(KvUnavailableError);
    expect(ops.staleHits).toBe(1);
    f.heal();
    c.advance(1_001); // past the default errorRetryMs
    expect(await store.getWithMetadata("cfg")).toMatchObject({ value: { percent: 30 }, stale: false, cached: false });
  });

  it("after a failed read, the stale value stands in for errorRetryMs: one KV read per interval, not per request", async () => {
    const f = faulty(env.TEST_KV);
    const c = clock();
    const store = new KvStore(f.kv, {
      prefix: fresh(),
      codec: json(Config),
      now: c.now,
      cache: { ttlMs: 1_000, maxEntries: 10, staleOnError: true, errorRetryMs: 500 },
    });
    await env.TEST_KV.put(`${store.prefix}cfg`, '{"percent":30}');
    await store.get("cfg");
    c.advance(2_000);
    f.breakAll();
    const reads = () => f.calls.getWithMetadata;
    expect((await store.getWithMetadata("cfg")).stale).toBe(true);
    const afterFirst = reads();
    for (let i = 0; i < 5; i++) {
      const got = await store.getWithMetadata("cfg");
      expect(got).toMatchObject({ value: { percent: 30 }, stale: true });
      expect(got.error).toBeInstanceOf(KvUnavailableError);
    }
    expect(reads()).toBe(afterFirst);
    c.advance(501);
    f.heal();
    expect(await store.getWithMetadata("cfg")).toMatchObject({ value: { percent: 30 }, stale: false, cached: false });
    expect(reads()).toBe(afterFirst + 1);
  });

  it("stale-on-error also covers a stored value that fails validation (last good value kept)", async () => {
    const c = clock();
    const store = new KvStore(env.TEST_KV, { prefix: fresh(), codec: json(Config), now: c.now, cache: { ttlMs: 1_000, maxEntries: 10, staleOnError: true } });
    await env.TEST_KV.put(`${store.prefix}cfg`, '{"percent":40}');
    await store.get("cfg");
    await env.TEST_KV.put(`${store.prefix}cfg`, '{"percent":150}');
    c.advance(2_000);
    const got = await store.getWithMetadata("cfg");
    expect(got.value).toEqual({ percent: 40 });
    expect(got.stale).toBe(true);
    expect(got.error).toBeInstanceOf(KvValidationError);
  });

  it("without staleOnError, a KV failure is a typed error even when an entry is held", async () => {
    const f = faulty(env.TEST_KV);
    const c = clock();
    const store = new KvStore(f.kv, { prefix: fresh(), codec: text(), now: c.now, cache: { ttlMs: 1_000, maxEntries: 10 } });
    await env.TEST_KV.put(`${store.prefix}k`, "v");
    await store.get("k");
    c.advance(1_001);
    f.breakAll();
    await expect(store.get("k")).rejects.toBeInstanceOf(KvUnavailableError);
  });

  it("with nothing held, a KV failure is a typed error", async () => {
    const f = faulty(env.TEST_KV);
    f.breakAll();
    const store = new KvStore(f.kv, { codec: text(), cache: { ttlMs: 1_000, maxEntries: 10, staleOnError: true } });
    await expect(store.get("k")).rejects.toBeInstanceOf(KvUnavailableError);
  });

  it("with nothing held, a failed read is remembered for errorRetryMs: the same typed error, no KV read per request", async () => {
    const f = faulty(env.TEST_KV);
    const c = clock();
    const store = new KvStore(f.kv, {
      prefix: fresh(),
      codec: json(Config),
      now: c.now,
      cache: { ttlMs: 1_000, maxEntries: 10, staleOnError: true, errorRetryMs: 500 },
    });
    await env.TEST_KV.put(`${store.prefix}cfg`, '{"percent":30}');
    f.breakAll();
    const first = await store.get("cfg").catch((err: unknown) => err);
    expect(first).toBeInstanceOf(KvUnavailableError);
    for (let i = 0; i < 5; i++) {
      c.advance(99);
      await expect(store.getWithMetadata("cfg")).rejects.toBe(first);
    }
    expect(f.calls.getWithMetadata).toBe(1);
    c.advance(6); // past errorRetryMs: KV again, still down, a new error and a new interval
    const second = await store.get("cfg").catch((err: unknown) => err);
    expect(second).toBeInstanceOf(KvUnavailableError);
    expect(second).not.toBe(first);
    expect(f.calls.getWithMetadata).toBe(2);
    f.heal();
    await expect(store.get("cfg")).rejects.toBe(second);
    c.advance(501);
    expect(await store.getWithMetadata("cfg")).toMatchObject({ value: { percent: 30 }, stale: false, cached: false });
    expect(f.calls.getWithMetadata).toBe(3);
  });

  it("with nothing held, a stored value that fails validation is remembered too, and `fresh` reads KV anyway", async () => {
    const f = faulty(env.TEST_KV);
    const c = clock();
    const store = new KvStore(f.kv, { prefix: fresh(), codec: json(Config), now: c.now, cache: { ttlMs: 1_000, maxEntries: 10, staleOnError: true } });
    await env.TEST_KV.put(`${store.prefix}cfg`, '{"percent":150}');
    await expect(store.get("cfg")).rejects.toBeInstanceOf(KvValidationError);
    await expect(store.get("cfg")).rejects.toBeInstanceOf(KvValidationError);
    expect(f.calls.getWithMetadata).toBe(1);
    await env.TEST_KV.put(`${store.prefix}cfg`, '{"percent":15}');
    expect(await store.get("cfg", { fresh: true })).toEqual({ percent: 15 });
    expect(f.calls.getWithMetadata).toBe(2);
  });

  it("without staleOnError, a failure with nothing held is not remembered: every read goes to KV", async () => {
    const f = faulty(env.TEST_KV);
    const store = new KvStore(f.kv, { prefix: fresh(), codec: text(), cache: { ttlMs: 1_000, maxEntries: 10 } });
    f.breakAll();
    await expect(store.get("k")).rejects.toBeInstanceOf(KvUnavailableError);
    await expect(store.get("k")).rejects.toBeInstanceOf(KvUnavailableError);
    expect(f.calls.getWithMetadata).toBe(2);
  });

  it("keepOnMissing: a key deleted under a held value keeps the last good one, one KV read per errorRetryMs", async () => {
    const f = faulty(env.TEST_KV);
    const c = clock();
    const store = new KvStore(f.kv, {
      prefix: fresh(),
      codec: json(Config),
      now: c.now,
      cache: { ttlMs: 1_000, maxEntries: 10, staleOnError: true, errorRetryMs: 500, keepOnMissing: true },
    });
    await env.TEST_KV.put(`${store.prefix}cfg`, '{"percent":30}');
    await store.get("cfg");
    await env.TEST_KV.delete(`${store.prefix}cfg`);
    c.advance(1_001);
    const ops = new KvOps();
    const got = await store.getWithMetadata("cfg", { ops });
    expect(got).toMatchObject({ value: { percent: 30 }, cached: true, stale: true });
    expect(got.error).toBeInstanceOf(EdgeKvError);
    expect(got.error?.code).toBe("missing");
    expect(got.error?.message).toContain(`${store.prefix}cfg`);
    expect(ops.staleHits).toBe(1);
    for (let i = 0; i < 3; i++) expect(await store.getWithMetadata("cfg")).toMatchObject({ value: { percent: 30 }, stale: true, error: got.error });
    expect(f.calls.getWithMetadata).toBe(2);
    c.advance(501);
    expect((await store.getWithMetadata("cfg")).error).not.toBe(got.error); // KV read again, still missing
    expect(f.calls.getWithMetadata).toBe(3);
    await env.TEST_KV.put(`${store.prefix}cfg`, '{"percent":35}');
    c.advance(501);
    expect(await store.getWithMetadata("cfg")).toMatchObject({ value: { percent: 35 }, stale: false, cached: false });
  });

  it("keepOnMissing: with nothing held (or a missing key held), missing is missing", async () => {
    const c = clock();
    const store = new KvStore(env.TEST_KV, {
      prefix: fresh(),
      codec: json(Config),
      now: c.now,
      cache: { ttlMs: 1_000, maxEntries: 10, staleOnError: true, keepOnMissing: true },
    });
    expect(await store.getWithMetadata("cfg")).toMatchObject({ value: null, stale: false, cached: false });
    c.advance(1_001);
    expect(await store.getWithMetadata("cfg")).toMatchObject({ value: null, stale: false, cached: false });
  });

  it("without keepOnMissing, a deleted key reads as missing once the entry expires", async () => {
    const c = clock();
    const store = new KvStore(env.TEST_KV, { prefix: fresh(), codec: json(Config), now: c.now, cache: { ttlMs: 1_000, maxEntries: 10, staleOnError: true } });
    await env.TEST_KV.put(`${store.prefix}cfg`, '{"percent":30}');
    await store.get("cfg");
    await env.TEST_KV.delete(`${store.prefix}cfg`);
    c.advance(1_001);
    expect(await store.getWithMetadata("cfg")).toMatchObject({ value: null, stale: false });
  });

  it("caches missing keys for negativeTtlMs", async () => {
    const f = faulty(env.TEST_KV);
    const c = clock();
    const store = new KvStore(f.kv, { prefix: fresh(), codec: text(), now: c.now, cache: { ttlMs: 10_000, negativeTtlMs: 500, maxEntries: 10 } });
    expect(await store.get("nope")).toBeNull();
    expect(await store.get("nope")).toBeNull();
    expect(f.calls.getWithMetadata).toBe(1);
    c.advance(501);
    await store.get("nope");
    expect(f.calls.getWithMetadata).toBe(2);
  });

  it("a TTL function can cap an entry's life per value (e.g. at a token's expiry)", async () => {
    const f = faulty(env.TEST_KV);
    const c = clock(0);
    const Tok = v.object({ expiresAt: v.number() });
    const store = new KvStore(f.kv, {
      prefix: fresh(),
      codec: json(Tok),
      now: c.now,
      cache: { ttlMs: (tok) => Math.min(10_000, tok.expiresAt - c.now()), maxEntries: 10 },
    });
    await env.TEST_KV.put(`${store.prefix}t`, JSON.stringify({ expiresAt: 2_000 }));
    await store.get("t");
    c.advance(1_999);
    await store.get("t");
    expect(f.calls.getWithMetadata).toBe(1);
    c.advance(2);
    await store.get("t");
    expect(f.calls.getWithMetadata).toBe(2);
  });

  it("put and delete through the store update this isolate at once", async () => {
    const store = new KvStore(env.TEST_KV, { prefix: fresh(), codec: text(), cache: { ttlMs: 60_000, maxEntries: 10 } });
    await store.put("k", "one");
    await store.get("k");
    await store.put("k", "two");
    expect(await store.get("k")).toBe("two");
    await store.delete("k");
    expect(await store.get("k")).toBeNull();
  });

  it("`fresh: true` bypasses the cache and refreshes it", async () => {
    const f = faulty(env.TEST_KV);
    const store = new KvStore(f.kv, { prefix: fresh(), codec: text(), cache: { ttlMs: 60_000, maxEntries: 10 } });
    await env.TEST_KV.put(`${store.prefix}k`, "one");
    await store.get("k");
    await env.TEST_KV.put(`${store.prefix}k`, "two");
    expect(await store.get("k", { fresh: true })).toBe("two");
    expect(await store.get("k")).toBe("two");
  });

  it("getMany uses and fills the cache", async () => {
    const f = faulty(env.TEST_KV);
    const store = new KvStore(f.kv, { prefix: fresh(), codec: text(), cache: { ttlMs: 60_000, maxEntries: 10 } });
    await env.TEST_KV.put(`${store.prefix}a`, "A");
    await store.get("a");
    const ops = new KvOps();
    const got = await store.getMany(["a", "b"], { ops });
    expect([...got]).toEqual([
      ["a", "A"],
      ["b", null],
    ]);
    expect([ops.cacheHits, ops.reads]).toEqual([1, 1]);
    await store.getMany(["a", "b"], { ops });
    expect(ops.reads).toBe(1);
  });

  it("is refused for stream stores (a stream cannot be replayed)", () => {
    expect(() => new KvStore(env.TEST_KV, { codec: stream(), cache: { ttlMs: 1, maxEntries: 1 } })).toThrow(KvUnsupportedError);
  });
});

describe("stale-while-revalidate", () => {
  const swrStore = (f: ReturnType<typeof faulty>, c: ReturnType<typeof clock>) =>
    new KvReader(f.kv, {
      prefix: fresh(),
      codec: json(Config),
      now: c.now,
      cache: { ttlMs: 5_000, staleWhileRevalidateMs: 25_000, maxEntries: 4, staleOnError: true },
    });

  it("serves an expired entry at once and refreshes it once in the background through waitUntil", async () => {
    const f = faulty(env.TEST_KV);
    const c = clock();
    const store = swrStore(f, c);
    await env.TEST_KV.put(`${store.prefix}cfg`, '{"percent":10}');
    const pending: Promise<unknown>[] = [];
    const waitUntil = (p: Promise<unknown>) => void pending.push(p);
    expect(await store.get("cfg", { waitUntil })).toEqual({ percent: 10 });
    await env.TEST_KV.put(`${store.prefix}cfg`, '{"percent":20}');
    c.advance(6_000);
    const ops = new KvOps();
    const r = await store.getWithMetadata("cfg", { ops, waitUntil });
    expect(r).toMatchObject({ value: { percent: 10 }, cached: true, stale: false });
    expect([ops.reads, ops.cacheHits]).toEqual([0, 1]);
    // A second request while the refresh is in flight does not start another.
    await store.get("cfg", { waitUntil });
    expect(pending).toHaveLength(1);
    await Promise.all(pending);
    expect(f.calls.getWithMetadata).toBe(2);
    expect(await store.getWithMetadata("cfg", { waitUntil })).toMatchObject({ value: { percent: 20 }, cached: true });
    expect(f.calls.getWithMetadata).toBe(2);
  });

  it("reads first without waitUntil, or once the window has passed", async () => {
    const f = faulty(env.TEST_KV);
    const c = clock();
    const store = swrStore(f, c);
    await env.TEST_KV.put(`${store.prefix}cfg`, '{"percent":10}');
    const pending: Promise<unknown>[] = [];
    const waitUntil = (p: Promise<unknown>) => void pending.push(p);
    await store.get("cfg");
    await env.TEST_KV.put(`${store.prefix}cfg`, '{"percent":20}');
    c.advance(6_000);
    expect(await store.get("cfg")).toEqual({ percent: 20 });
    await env.TEST_KV.put(`${store.prefix}cfg`, '{"percent":30}');
    c.advance(5_000 + 25_000);
    expect(await store.get("cfg", { waitUntil })).toEqual({ percent: 30 });
    expect(pending).toHaveLength(0);
    expect(f.calls.getWithMetadata).toBe(3);
  });

  it("a failed background refresh keeps the entry; a later read past the window falls back to stale-on-error", async () => {
    const f = faulty(env.TEST_KV);
    const c = clock();
    const store = swrStore(f, c);
    await env.TEST_KV.put(`${store.prefix}cfg`, '{"percent":10}');
    const pending: Promise<unknown>[] = [];
    const waitUntil = (p: Promise<unknown>) => void pending.push(p);
    await store.get("cfg", { waitUntil });
    f.breakAll();
    c.advance(6_000);
    expect(await store.get("cfg", { waitUntil })).toEqual({ percent: 10 });
    await Promise.all(pending); // never rejects
    c.advance(30_000);
    const ops = new KvOps();
    expect(await store.getWithMetadata("cfg", { ops, waitUntil })).toMatchObject({ value: { percent: 10 }, stale: true });
    expect(ops.staleHits).toBe(1);
  });
});

describe("KvCoreReader (the core KvReader builds on; the splitter reads its config with it)", () => {
  it("reads and validates through the isolate cache, and reports no metadata (it validates none)", async () => {
    const f = faulty(env.TEST_KV);
    const core = new KvCoreReader(f.kv, { prefix: fresh(), codec: json(Config), now: clock().now, cache: { ttlMs: 5_000, maxEntries: 2 } });
    await env.TEST_KV.put(`${core.prefix}cfg`, '{"percent":10}', { metadata: { by: "someone" } });
    expect(await core.getWithMetadata("cfg")).toEqual({ value: { percent: 10 }, metadata: null, cached: false, stale: false });
    expect(await core.getWithMetadata("cfg")).toMatchObject({ value: { percent: 10 }, metadata: null, cached: true });
    expect(f.calls.getWithMetadata).toBe(1);
    await env.TEST_KV.put(`${core.prefix}bad`, '{"percent":150}');
    await expect(core.getWithMetadata("bad")).rejects.toBeInstanceOf(KvValidationError);
  });

  it("has no stale-while-revalidate: an expired entry is read from KV again, even given waitUntil", async () => {
    const f = faulty(env.TEST_KV);
    const c = clock();
    const core = new KvCoreReader(f.kv, { prefix: fresh(), codec: json(Config), now: c.now, cache: { ttlMs: 5_000, maxEntries: 2 } });
    await env.TEST_KV.put(`${core.prefix}cfg`, '{"percent":10}');
    await core.getWithMetadata("cfg");
    await env.TEST_KV.put(`${core.prefix}cfg`, '{"percent":20}');
    c.advance(5_001);
    const pending: Promise<unknown>[] = [];
    expect(await core.getWithMetadata("cfg", { waitUntil: (p) => void pending.push(p) })).toMatchObject({ value: { percent: 20 }, cached: false });
    expect(pending).toHaveLength(0);
    expect(f.calls.getWithMetadata).toBe(2);
  });

  it("refuses an isolate cache on a raw codec, as KvReader does", () => {
    expect(() => new KvCoreReader(env.TEST_KV, { codec: stream(), cache: { ttlMs: 1, maxEntries: 1 } })).toThrow(KvUnsupportedError);
  });

  // The core's keys and options are the caller's constants (the splitter's one key, cacheTtl 30), so it
  // carries no limit checks; every reader that may see a request's key (KvReader, the store) checks them.
  it("leaves key and cacheTtl checks to KvReader, which refuses each illegal key and TTL before any KV call", async () => {
    const f = faulty(env.TEST_KV);
    expect(new KvCoreReader(f.kv, { prefix: "p/", codec: json(Config) }).keyFor("a")).toBe("p/a");
    const reader = new KvReader(f.kv, { codec: json(Config) });
    for (const key of ["", ".", "..", "x".repeat(513), "é".repeat(257)]) {
      await expect(reader.getWithMetadata(key)).rejects.toMatchObject({ name: "KvLimitError" });
    }
    for (const cacheTtl of [0, 29, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(reader.getWithMetadata("a", { cacheTtl })).rejects.toMatchObject({ name: "KvLimitError", limit: "cache-ttl" });
      expect(() => new KvReader(f.kv, { codec: json(Config), cacheTtl })).toThrow(KvLimitError);
    }
    expect(f.calls.getWithMetadata).toBe(0);
  });
});
