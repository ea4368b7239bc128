/** The library's smaller halves: KvWriter (put/delete without listing or bulk get) and the standalone listPages generator. */
import { env } from "cloudflare:workers";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { KvLimitError, KvOps, KvReader, KvStore, KvValidationError, KvWriter, json, listPages, text } from "../../shared/kv/index.ts";
import { faulty } from "./helpers.ts";

const Meta = v.object({ by: v.string() });
let n = 0;
const fresh = () => `w${Date.now().toString(36)}${++n}:`;

describe("KvWriter", () => {
  it("validates and writes, reads its own write, deletes, counts ops; no listing or bulk get on it", async () => {
    const p = fresh();
    const w = new KvWriter(env.TEST_KV, { prefix: p, codec: json(v.object({ n: v.number() })), cache: { ttlMs: 60_000, maxEntries: 4 } });
    const ops = new KvOps();
    await w.put("a", { n: 1 }, { expirationTtl: 120, ops });
    expect(await env.TEST_KV.get(`${p}a`)).toBe('{"n":1}');
    expect(await w.get("a", { ops })).toEqual({ n: 1 });
    expect(ops.cacheHits).toBe(1);
    await expect(w.put("b", { n: "x" } as never)).rejects.toBeInstanceOf(KvValidationError);
    await expect(w.put("b", { n: 2 }, { expirationTtl: 10 })).rejects.toBeInstanceOf(KvLimitError);
    expect(await env.TEST_KV.get(`${p}b`)).toBeNull();
    await w.delete("a", { ops });
    expect(await w.get("a")).toBeNull();
    expect(ops.writes).toBe(1);
    expect(ops.deletes).toBe(1);
    expect("listPages" in w || "getMany" in w || "keys" in w).toBe(false);
  });

  it("retries a put refused with 429, like KvStore", async () => {
    const f = faulty(env.TEST_KV);
    f.failPuts(2);
    const w = new KvWriter(f.kv, { prefix: fresh(), codec: text(), sleep: async () => {} });
    await w.put("k", "v");
    expect(f.calls.put).toBe(3);
    expect(await w.get("k")).toBe("v");
  });
});

describe("listPages (standalone)", () => {
  it("lists through any reader, as KvStore.listPages does: names without prefix, metadata validated, lazy", async () => {
    const p = fresh();
    for (let i = 0; i < 5; i++) await env.TEST_KV.put(`${p}k${i}`, "v", { metadata: { by: `m${i}` } });
    const f = faulty(env.TEST_KV);
    const reader = new KvReader(f.kv, { prefix: p, codec: text(), metadata: Meta });
    const ops = new KvOps();
    const pages = listPages(reader, { limit: 2, ops });
    expect(f.calls.list).toBe(0);
    const got: { name: string; metadata: { by: string } | null }[] = [];
    for await (const page of pages) got.push(...page.keys);
    expect(got.map((k) => k.name)).toEqual(["k0", "k1", "k2", "k3", "k4"]);
    expect(got[3]!.metadata).toEqual({ by: "m3" });
    expect(f.calls.list).toBe(3);
    expect(ops.lists).toBe(3);
    const store = new KvStore(env.TEST_KV, { prefix: p, codec: text(), metadata: Meta });
    const viaStore: string[] = [];
    for await (const page of store.listPages({ limit: 2 })) viaStore.push(...page.keys.map((k) => k.name));
    expect(viaStore).toEqual(got.map((k) => k.name));
  });

  it("checks the limit when the first page is pulled, with the same error as KvStore", async () => {
    const reader = new KvReader(env.TEST_KV, { codec: text() });
    const gen = listPages(reader, { limit: 1001 });
    await expect(gen.next()).rejects.toMatchObject({ limit: "list-limit", value: 1001 });
  });
});
