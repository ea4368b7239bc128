import { env } from "cloudflare:workers";
import * as v from "valibot";
import { beforeEach, describe, expect, it } from "vitest";
import { KvOps, KvStore, KvUnsupportedError, KvValidationError, bytes, json, stream, text, type Schema } from "../../shared/kv/index.ts";
import { faulty, readText } from "./helpers.ts";

const User = v.object({ name: v.pipe(v.string(), v.minLength(1)), age: v.pipe(v.number(), v.integer(), v.minValue(0)) });
const Meta = v.object({ by: v.string() });

let prefix = 0;
const fresh = () => `t${++prefix}:`;

describe("KvStore codecs", () => {
  it("json: validates on write, stores JSON under the prefix, validates on read", async () => {
    const p = fresh();
    const store = new KvStore(env.TEST_KV, { prefix: p, codec: json(User) });
    await store.put("ada", { name: "Ada", age: 36 });
    expect(await env.TEST_KV.get(`${p}ada`)).toBe('{"name":"Ada","age":36}');
    expect(await store.get("ada")).toEqual({ name: "Ada", age: 36 });
    expect(await store.get("missing")).toBeNull();
  });

  it("text: stores strings as they are", async () => {
    const store = new KvStore(env.TEST_KV, { prefix: fresh(), codec: text() });
    await store.put("k", "héllo ✓");
    expect(await store.get("k")).toBe("héllo ✓");
  });

  it("bytes: binary values byte for byte", async () => {
    const store = new KvStore(env.TEST_KV, { prefix: fresh(), codec: bytes() });
    const data = new Uint8Array([0, 255, 1, 254, 10, 13]);
    await store.put("b", data);
    expect(Array.from((await store.get("b"))!)).toEqual(Array.from(data));
  });

  it("stream: writes from a stream and reads a stream back without buffering", async () => {
    const store = new KvStore(env.TEST_KV, { prefix: fresh(), codec: stream() });
    const chunks = ["one,", "two,", "three"];
    const source = new ReadableStream<Uint8Array>({
      start(c) {
        for (const s of chunks) c.enqueue(new TextEncoder().encode(s));
        c.close();
      },
    });
    await store.put("s", source);
    const got = await store.get("s");
    expect(got).toBeInstanceOf(ReadableStream);
    expect(await readText(got!)).toBe("one,two,three");
  });
});

describe("validation", () => {
  it("refuses an invalid value on write with a typed error naming the field; nothing is written", async () => {
    const p = fresh();
    const store = new KvStore(env.TEST_KV, { prefix: p, codec: json(User) });
    const err = await store.put("bad", { name: "", age: -1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KvValidationError);
    const e = err as KvValidationError;
    expect(e.phase).toBe("write");
    expect(e.target).toBe("value");
    expect(e.issues.map((i) => i.path)).toEqual(["name", "age"]);
    expect(await env.TEST_KV.get(`${p}bad`)).toBeNull();
  });

  it("a stored value that fails the schema is a typed read error, never a cast", async () => {
    const p = fresh();
    await env.TEST_KV.put(`${p}u`, JSON.stringify({ name: "Bob", age: "old" }));
    const store = new KvStore(env.TEST_KV, { prefix: p, codec: json(User) });
    const err = await store.get("u").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KvValidationError);
    expect((err as KvValidationError).phase).toBe("read");
    expect((err as KvValidationError).issues[0]?.path).toBe("age");
  });

  it("invalid JSON in KV is a typed read error", async () => {
    const p = fresh();
    await env.TEST_KV.put(`${p}j`, "{not json");
    const store = new KvStore(env.TEST_KV, { prefix: p, codec: json(User) });
    const err = await store.get("j").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KvValidationError);
    expect((err as Error).message).toContain("not valid JSON");
  });

  it("accepts any Standard Schema, including an async one from another vendor", async () => {
    const Even: Schema<number> = {
      "~standard": {
        version: 1,
        vendor: "handmade",
        validate: async (value: unknown) => (typeof value === "number" && value % 2 === 0 ? { value } : { issues: [{ message: "must be even" }] }),
      },
    };
    const store = new KvStore(env.TEST_KV, { prefix: fresh(), codec: json(Even) });
    await store.put("n", 4);
    expect(await store.get("n")).toBe(4);
    await expect(store.put("n", 3)).rejects.toThrow("must be even");
  });

  it("schemas can transform: the store returns the schema's output", async () => {
    const Dated = v.pipe(
      v.string(),
      v.transform((s) => s.toUpperCase()),
    );
    const store = new KvStore(env.TEST_KV, { prefix: fresh(), codec: text(Dated) });
    await env.TEST_KV.put(`${store.prefix}x`, "abc");
    expect(await store.get("x")).toBe("ABC");
  });
});

describe("metadata", () => {
  it("round-trips typed, validated metadata", async () => {
    const store = new KvStore(env.TEST_KV, { prefix: fresh(), codec: text(), metadata: Meta });
    await store.put("k", "v", { metadata: { by: "cli" } });
    const got = await store.getWithMetadata("k");
    expect(got).toMatchObject({ value: "v", metadata: { by: "cli" }, cached: false, stale: false });
  });

  it("refuses invalid metadata on write and reports invalid stored metadata on read", async () => {
    const store = new KvStore(env.TEST_KV, { prefix: fresh(), codec: text(), metadata: Meta });
    const err = await store.put("k", "v", { metadata: { by: 1 } as unknown as { by: string } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KvValidationError);
    expect((err as KvValidationError).target).toBe("metadata");
    await env.TEST_KV.put(`${store.prefix}raw`, "v", { metadata: { by: 42 } });
    const readErr = await store.getWithMetadata("raw").catch((e: unknown) => e);
    expect(readErr).toBeInstanceOf(KvValidationError);
    expect((readErr as KvValidationError).phase).toBe("read");
  });
});

describe("getMany", () => {
  it("splits into bulk gets of 100 keys and maps missing keys to null", async () => {
    const p = fresh();
    const store = new KvStore(env.TEST_KV, { prefix: p, codec: json(User) });
    const keys = Array.from({ length: 250 }, (_, i) => `u${i}`);
    await Promise.all(keys.slice(0, 200).map((k, i) => env.TEST_KV.put(`${p}${k}`, JSON.stringify({ name: k, age: i }))));
    const ops = new KvOps();
    const got = await store.getMany(keys, { ops });
    expect(ops.reads).toBe(3);
    expect(got.size).toBe(250);
    expect(got.get("u7")).toEqual({ name: "u7", age: 7 });
    expect(got.get("u249")).toBeNull();
  });

  it("validates every value", async () => {
    const p = fresh();
    await env.TEST_KV.put(`${p}a`, JSON.stringify({ name: "A", age: 1 }));
    await env.TEST_KV.put(`${p}b`, JSON.stringify({ name: "B" }));
    const store = new KvStore(env.TEST_KV, { prefix: p, codec: json(User) });
    await expect(store.getMany(["a", "b"])).rejects.toBeInstanceOf(KvValidationError);
  });

  it("is refused for stream stores", async () => {
    const store = new KvStore(env.TEST_KV, { prefix: fresh(), codec: stream() });
    // @ts-expect-error getMany is for json and text stores only
    await expect(store.getMany(["a"])).rejects.toBeInstanceOf(KvUnsupportedError);
  });
});

describe("list", () => {
  let p: string;
  beforeEach(async () => {
    p = fresh();
    await Promise.all(Array.from({ length: 7 }, (_, i) => env.TEST_KV.put(`${p}k${i}`, "v", { metadata: { by: `m${i}` } })));
    await env.TEST_KV.put(`${p.slice(0, -1)}x:outside`, "v");
  });

  it("is a lazy iterator over pages: one list call per page pulled", async () => {
    const f = faulty(env.TEST_KV);
    const store = new KvStore(f.kv, { prefix: p, codec: text(), metadata: Meta });
    const pages = store.listPages({ limit: 3 });
    expect(f.calls.list).toBe(0);
    const first = await pages.next();
    expect(f.calls.list).toBe(1);
    expect(first.value && first.value.keys.map((k) => k.name)).toEqual(["k0", "k1", "k2"]);
    expect(first.value && first.value.cursor).toBeTypeOf("string");
    const rest: string[] = [];
    for await (const page of pages) rest.push(...page.keys.map((k) => k.name));
    expect(rest).toEqual(["k3", "k4", "k5", "k6"]);
    expect(f.calls.list).toBe(3);
  });

  it("keeps going after an empty page that is not the last (loops on list_complete)", async () => {
    const f = faulty(env.TEST_KV);
    f.injectEmptyPage();
    const store = new KvStore(f.kv, { prefix: p, codec: text(), metadata: Meta });
    const names: string[] = [];
    for await (const k of store.keys()) names.push(k.name);
    expect(names).toHaveLength(7);
    expect(f.calls.list).toBe(2);
  });

  it("strips the store prefix, validates metadata, reports expiration, and never leaves the prefix", async () => {
    const store = new KvStore(env.TEST_KV, { prefix: p, codec: text(), metadata: Meta });
    const exp = Math.floor(Date.now() / 1000) + 3600;
    await store.put("k9", "v", { expiration: exp, metadata: { by: "x" } });
    const all: { name: string; expiration: number | undefined; metadata: { by: string } | null }[] = [];
    for await (const k of store.keys()) all.push(k);
    expect(all.map((k) => k.name)).not.toContain("x:outside");
    expect(all.find((k) => k.name === "k9")).toEqual({ name: "k9", expiration: exp, metadata: { by: "x" } });
    expect(all.find((k) => k.name === "k0")?.metadata).toEqual({ by: "m0" });
  });

  it("resumes from a cursor", async () => {
    const store = new KvStore(env.TEST_KV, { prefix: p, codec: text() });
    const first = await store.listPages({ limit: 4 }).next();
    const cursor = first.value ? first.value.cursor : null;
    const names: string[] = [];
    for await (const page of store.listPages({ limit: 4, cursor })) names.push(...page.keys.map((k) => k.name));
    expect(names).toEqual(["k4", "k5", "k6"]);
  });
});

describe("delete and expiration", () => {
  it("deletes", async () => {
    const store = new KvStore(env.TEST_KV, { prefix: fresh(), codec: text() });
    await store.put("k", "v");
    await store.delete("k");
    expect(await store.get("k")).toBeNull();
  });

  it("passes expirationTtl to KV (visible as the key's expiration)", async () => {
    const store = new KvStore(env.TEST_KV, { prefix: fresh(), codec: text() });
    const before = Math.floor(Date.now() / 1000);
    await store.put("k", "v", { expirationTtl: 120 });
    const [key] = (await env.TEST_KV.list({ prefix: store.prefix })).keys;
    expect(key?.expiration).toBeGreaterThanOrEqual(before + 119);
    expect(key?.expiration).toBeLessThanOrEqual(before + 122);
  });
});

describe("per-request accounting", () => {
  it("counts reads, writes, deletes and lists, and renders Server-Timing", async () => {
    const store = new KvStore(env.TEST_KV, { prefix: fresh(), codec: text() });
    const ops = new KvOps();
    await store.put("a", "1", { ops });
    await store.get("a", { ops });
    await store.get("b", { ops });
    await store.delete("a", { ops });
    for await (const _ of store.keys({ ops })) void _;
    expect([ops.reads, ops.writes, ops.deletes, ops.lists]).toEqual([2, 1, 1, 1]);
    expect(ops.toServerTiming()).toMatch(/^kv;desc="reads=2 writes=1 deletes=1 lists=1 hits=0 stale=0";dur=[\d.]+$/);
  });
});
