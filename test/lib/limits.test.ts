import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { KV_LIMITS, KvLimitError, KvStore, bytes, json, stream, text, type KvLimit } from "../../shared/kv/index.ts";
import { faulty } from "./helpers.ts";

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);

/** Asserts `call` fails with KvLimitError naming `limit` and `value`, and that KV was never called. */
async function expectLimit(call: (s: KvStore<string>) => Promise<unknown>, limit: KvLimit, value: unknown) {
  const f = faulty(env.TEST_KV);
  const store = new KvStore(f.kv, { prefix: "lim:", codec: text(), now: () => NOW });
  const err = await call(store).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KvLimitError);
  expect((err as KvLimitError).limit).toBe(limit);
  expect((err as KvLimitError).value).toEqual(value);
  expect((err as Error).message).toContain(limit);
  expect(f.calls).toEqual({ get: 0, getWithMetadata: 0, put: 0, delete: 0, list: 0 });
}

describe("every documented limit is checked before KV is called", () => {
  it("key: at least 1 byte", () => expectLimit((s) => new KvStore(s.binding, { codec: text() }).put("", "v"), "key-empty", ""));
  it("key: at most 512 bytes, counted in UTF-8", async () => {
    await expectLimit((s) => s.put("x".repeat(509), "v"), "key-bytes", 513); // 4-byte prefix "lim:"
    await expectLimit((s) => s.get("€".repeat(170)), "key-bytes", 514);
  });
  it("key: not . or ..", async () => {
    const bare = (s: KvStore<string>) => new KvStore(s.binding, { codec: text() });
    await expectLimit((s) => bare(s).put(".", "v"), "key-dot", ".");
    await expectLimit((s) => bare(s).get(".."), "key-dot", "..");
    await expectLimit((s) => bare(s).delete(".."), "key-dot", "..");
  });
  it("value: at most 25 MiB", () => expectLimit((s) => s.put("big", "x".repeat(KV_LIMITS.valueMaxBytes + 1)), "value-bytes", KV_LIMITS.valueMaxBytes + 1));
  it("value: multi-byte text is measured in bytes", () =>
    expectLimit((s) => s.put("big", "é".repeat(KV_LIMITS.valueMaxBytes / 2 + 1)), "value-bytes", KV_LIMITS.valueMaxBytes + 2));
  it("metadata: at most 1024 bytes serialized", () => expectLimit((s) => s.put("k", "v", { metadata: { note: "x".repeat(1020) } }), "metadata-bytes", 1031));
  it("metadata: must serialize to JSON", () => expectLimit((s) => s.put("k", "v", { metadata: { n: 1n } }), "metadata-json", { n: 1n }));
  it("expirationTtl: at least 60 s", () => expectLimit((s) => s.put("k", "v", { expirationTtl: 59 }), "expiration-ttl", 59));
  it("expirationTtl: not NaN", () => expectLimit((s) => s.put("k", "v", { expirationTtl: Number.NaN }), "expiration-ttl", Number.NaN));
  it("expiration: at least now + 60 s", () => expectLimit((s) => s.put("k", "v", { expiration: NOW / 1000 + 59 }), "expiration", NOW / 1000 + 59));
  it("cacheTtl: at least 30 s, per read", () => expectLimit((s) => s.get("k", { cacheTtl: 29 }), "cache-ttl", 29));
  it("cacheTtl: at least 30 s, as a store default (at construction)", () => {
    expect(() => new KvStore(env.TEST_KV, { codec: text(), cacheTtl: 10 })).toThrow(KvLimitError);
  });
  it("list limit: 1..1000", async () => {
    await expectLimit((s) => s.listPages({ limit: 0 }).next(), "list-limit", 0);
    await expectLimit((s) => s.listPages({ limit: 1001 }).next(), "list-limit", 1001);
  });
});

describe("no silent clamping: values at the boundary pass unchanged", () => {
  it("accepts a 512-byte key, a 60 s TTL, now + 60 s, 1024-byte metadata and cacheTtl 30", async () => {
    const store = new KvStore(env.TEST_KV, { codec: text() });
    const key = "k".repeat(512);
    await store.put(key, "v", { expirationTtl: 60, metadata: { n: "x".repeat(1016) } });
    const got = await store.getWithMetadata(key, { cacheTtl: 30 });
    expect(got.value).toBe("v");
    expect(JSON.stringify(got.metadata)).toHaveLength(1024);
    const exp = Math.ceil(Date.now() / 1000) + 61;
    await store.put("k2", "v", { expiration: exp });
    const listed = await env.TEST_KV.list({ prefix: "k2" });
    expect(listed.keys[0]?.expiration).toBe(exp);
  });
});

describe("values that are only known while streaming", () => {
  it("a declared size over 25 MiB is refused before the call", async () => {
    const f = faulty(env.TEST_KV);
    const store = new KvStore(f.kv, { codec: stream() });
    const err = await store.put("s", new ReadableStream(), { size: KV_LIMITS.valueMaxBytes + 1 }).catch((e: unknown) => e);
    expect((err as KvLimitError).limit).toBe("value-bytes");
    expect(f.calls.put).toBe(0);
  });

  it("a stream that grows past 25 MiB fails with KvLimitError and stores nothing", async () => {
    const store = new KvStore(env.TEST_KV, { codec: stream() });
    const chunk = new Uint8Array(1024 * 1024);
    let sent = 0;
    const source = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent > KV_LIMITS.valueMaxBytes) return c.close();
        sent += chunk.byteLength;
        c.enqueue(chunk);
      },
    });
    const err = await store.put("toobig", source).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KvLimitError);
    expect((err as KvLimitError).limit).toBe("value-bytes");
    expect(await env.TEST_KV.get("toobig")).toBeNull();
  });

  it("bytes over 25 MiB are refused before the call", async () => {
    const f = faulty(env.TEST_KV);
    const store = new KvStore(f.kv, { codec: bytes() });
    await expect(store.put("b", new Uint8Array(KV_LIMITS.valueMaxBytes + 1))).rejects.toBeInstanceOf(KvLimitError);
    expect(f.calls.put).toBe(0);
  });

  it("json values are measured after serialization", async () => {
    const f = faulty(env.TEST_KV);
    const store = new KvStore(f.kv, { codec: json<string[]>() });
    const err = await store.put("j", ["x".repeat(KV_LIMITS.valueMaxBytes)]).catch((e: unknown) => e);
    expect((err as KvLimitError).value).toBe(KV_LIMITS.valueMaxBytes + 4);
    expect(f.calls.put).toBe(0);
  });
});
