/**
 * The REST binding and the stand-in, in process: bulk batching by count and bytes,
 * faults in the middle of a bulk write, the documented limits, the v4 envelope, and
 * the client's guards (bounded reads, redaction, backoff).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { KvStore, json } from "../../../shared/kv/index.ts";
import { remoteKv, BULK_MAX_BYTES, bulkBodies, keySegment, type RemoteKvBinding } from "../../../cli/remote/binding.ts";
import { WriteBatch, writeMany, type KvPair } from "../../../cli/remote/bulk.ts";
import { CfApiClient, MAX_ATTEMPTS, readBounded, retryDelay, RETRY_AFTER_MAX_MS } from "../../../cli/remote/client.ts";
import { startCfApi, BULK_MAX_PAIRS, type CfApiStandIn } from "../../../scripts/cf-api.ts";
import { readKeyWorker, startWithEnvBindings } from "../helpers/miniflare.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const NS = "0000000000000000000000000000b001";
let api: CfApiStandIn;
let kv: RemoteKvBinding;

beforeAll(async () => {
  api = await startCfApi();
  kv = remoteKv(new CfApiClient({ baseUrl: api.url, token: api.token, sleep: async () => {} }), api.accountId, NS);
});
afterAll(() => api?.close());
afterEach(() => {
  api.clearFaults();
  api.resetCounts();
  api.namespace(NS).clear();
});

const pairs = (n: number, prefix = "k/"): KvPair[] => Array.from({ length: n }, (_, i) => ({ key: `${prefix}${String(i).padStart(6, "0")}`, value: `v${i}` }));

describe("bulk writes", () => {
  it("25,000 pairs go in 3 requests (10,000 a request), every one stored", async () => {
    await kv.bulkPut(pairs(25_000));
    expect(api.counts()).toEqual({ "PUT bulk": 3 });
    expect(api.namespace(NS).size).toBe(25_000);
    expect(kv.stats.keysWritten).toBeGreaterThanOrEqual(25_000);
  });

  it("a 429 in the middle of a bulk write is retried (Retry-After honoured) and nothing is lost", async () => {
    api.inject({ route: "PUT bulk", status: 429, retryAfter: 0, skip: 1, times: 1 });
    api.inject({ route: "PUT bulk", status: 502, skip: 2, times: 1 });
    await kv.bulkPut(pairs(25_000));
    expect(api.log.filter((l) => l.route === "PUT bulk").map((l) => l.status)).toEqual([200, 429, 200, 502, 200]);
    expect(api.namespace(NS).size).toBe(25_000);
  });

  it("retries are bounded: a 429 that never ends fails after MAX_ATTEMPTS requests, in one line", async () => {
    api.inject({ route: "PUT bulk", status: 429, retryAfter: 0, times: 100 });
    const err = await kv.bulkPut(pairs(5)).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^Cloudflare API rate limit \(Too Many Requests, code 10429: Too many requests\) on PUT bulk after 5 attempts/);
    expect(api.counts()).toEqual({ "PUT bulk": MAX_ATTEMPTS });
    expect(api.namespace(NS).size).toBe(0);
  });

  it("keys the API lists as unsuccessful are sent again, only those", async () => {
    api.inject({ route: "PUT bulk", unsuccessful: 3, times: 1 });
    await kv.bulkPut(pairs(50));
    expect(api.counts()).toEqual({ "PUT bulk": 2 });
    expect(api.namespace(NS).size).toBe(50);
  });

  it("binary values go as base64 and come back byte for byte; metadata and expiration_ttl are kept", async () => {
    const bytes = new Uint8Array([0, 255, 128, 10, 13, 0xc3, 0x28]);
    await kv.bulkPut([{ key: "bin", value: bytes, metadata: { t: 1 }, expirationTtl: 3600 }]);
    const e = api.namespace(NS).get("bin")!;
    expect(Buffer.from(e.value).equals(Buffer.from(bytes))).toBe(true);
    expect(e.metadata).toEqual({ t: 1 });
    expect(e.expiration).toBeGreaterThan(Date.now() / 1000 + 3000);
    const got = await kv.getWithMetadata("bin", { type: "arrayBuffer" });
    expect(Buffer.from(got.value!).equals(Buffer.from(bytes))).toBe(true);
    expect(got.metadata).toEqual({ t: 1 });
  });

  it("splits by bytes: bodies stay under 100 MB", () => {
    const big = "x".repeat(30_000_000);
    const bodies = bulkBodies([
      JSON.stringify({ key: "a", value: big }),
      JSON.stringify({ key: "b", value: big }),
      JSON.stringify({ key: "c", value: big }),
      JSON.stringify({ key: "d", value: big }),
    ]);
    expect(bodies.map((b) => b.count)).toEqual([3, 1]);
    for (const b of bodies) expect(Buffer.byteLength(b.body)).toBeLessThan(BULK_MAX_BYTES);
    expect(bulkBodies(pairs(BULK_MAX_PAIRS + 1).map((p) => JSON.stringify(p))).map((b) => b.count)).toEqual([BULK_MAX_PAIRS, 1]);
  });

  it("writeMany uses one bulk request on --remote, and one put per key on a local binding (real local KV)", async () => {
    expect(await writeMany(kv, pairs(120))).toEqual({ bulk: true });
    expect(api.counts()).toEqual({ "PUT bulk": 1 });
    const dir = await mkdtemp(join(tmpdir(), "edgekv-writemany-"));
    const mf = await startWithEnvBindings("site", dir, readKeyWorker("SITE_KV"));
    try {
      const local = await mf.getKVNamespace("SITE_KV");
      expect(await writeMany(local as never, [...pairs(20), { key: "bin", value: new Uint8Array([1, 2, 255]), metadata: { m: 1 } }])).toEqual({ bulk: false });
      expect(await local.get("k/000019")).toBe("v19");
      const bin = await local.getWithMetadata("bin", "arrayBuffer");
      expect([...new Uint8Array(bin.value!)]).toEqual([1, 2, 255]);
      expect(bin.metadata).toEqual({ m: 1 });
      const batch = new WriteBatch(local as never);
      expect(batch.bulk).toBe(false);
      await batch.add({ key: "b/1", value: "one" });
      await batch.addLast({ key: "b/0", value: "zero", metadata: { last: true } });
      await batch.flush();
      expect(await local.get("b/1")).toBe("one");
      expect((await local.getWithMetadata("b/0")).metadata).toEqual({ last: true });
      expect(batch.stats).toMatchObject({ pairs: 2, requests: 2 });
    } finally {
      await mf.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("the bulk plan for a site deploy: 10,000 small files in 3 write requests; a cut re-run sends only the missing batch", async () => {
    // What publishSite sends once it uses writeMany (docs/remote.md): blobs, shards and the index in
    // one writeMany (bodies in order, the index in the last), then the pointer on its own.
    const blobs = pairs(10_000, "site:b:").map((p) => ({ ...p, metadata: { t: 1 } }));
    const shards = pairs(40, "site:v:1:s:");
    const index = { key: "site:v:1", value: "{}", metadata: { files: 10_000 } };
    await writeMany(kv, [...blobs, ...shards, index]);
    await kv.put("site:live", "{}");
    const writes = api.counts();
    expect(writes).toEqual({ "PUT bulk": 2, "PUT values": 1 });
    const keys = api.namespace(NS).size;
    console.log(`bulk plan, first deploy of 10,000 small files: ${keys} keys in 3 write requests (${((3 / keys) * 10_000).toFixed(2)} per 10,000 keys)`);

    // Cut after the first body: a re-run finds those markers and sends the rest only.
    api.namespace(NS).clear();
    api.resetCounts();
    api.inject({ route: "PUT bulk", status: 403, skip: 1, times: 1 });
    await expect(writeMany(kv, [...blobs, ...shards, index])).rejects.toThrow("HTTP 403");
    const stored = new Set(api.namespace(NS).keys());
    expect(stored.size).toBe(10_000);
    expect(stored.has("site:v:1")).toBe(false);
    api.resetCounts();
    await writeMany(
      kv,
      [...blobs, ...shards, index].filter((p) => !stored.has(p.key)),
    );
    expect(api.counts()).toEqual({ "PUT bulk": 1 });
    expect(api.namespace(NS).size).toBe(10_041);
  });

  it("WriteBatch: pairs added one at a time, 8 at once, go out 10,000 a request", async () => {
    const batch = new WriteBatch(kv);
    const all = pairs(25_000);
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < all.length) await batch.add(all[next++]!);
      }),
    );
    await batch.flush();
    expect(api.counts()).toEqual({ "PUT bulk": 3 });
    expect(api.namespace(NS).size).toBe(25_000);
    expect(batch.stats).toMatchObject({ pairs: 25_000, requests: 3 });
  });

  it.each([1, 2])("WriteBatch: a marker (addLast) is never stored before its parts, whichever request fails (request %i cut)", async (skip) => {
    const batch = new WriteBatch(kv);
    api.inject({ route: "PUT bulk", status: 403, skip, times: 1_000_000 });
    const blobs = 6_000;
    const run = async () => {
      for (let i = 0; i < blobs; i++) {
        await batch.add({ key: `part/${i}`, value: new Uint8Array([i % 256, 1]) });
        await batch.addLast({ key: `marker/${i}`, value: new Uint8Array([i % 256, 0]), metadata: { parts: 2 } });
      }
      await batch.flush();
    };
    await expect(run()).rejects.toThrow("HTTP 403");
    const stored = api.namespace(NS);
    const markers = [...stored.keys()].filter((k) => k.startsWith("marker/"));
    for (const m of markers) expect(stored.has(m.replace("marker/", "part/"))).toBe(true);
    expect(markers.length).toBe(skip === 1 ? 0 : 5_000);
    expect(api.log.filter((l) => l.route === "PUT bulk").map((l) => l.status)).toEqual(skip === 1 ? [200, 403] : [200, 200, 403]);
  });

  it("writeMany checks every KV limit before sending anything", async () => {
    await expect(writeMany(kv, [...pairs(3), { key: "x".repeat(513), value: "v" }])).rejects.toThrow("KV limit key-bytes");
    await expect(writeMany(kv, [{ key: "k", value: "v", expirationTtl: 10 }])).rejects.toThrow("KV limit expiration-ttl");
    expect(api.counts()).toEqual({});
  });
});

describe("the binding under the library (KvStore), as the commands use it", () => {
  it("get/put/list/delete with metadata and expiration, and a bulk get", async () => {
    const store = new KvStore(kv, { prefix: "doc:", codec: json<{ n: number }>() });
    await store.put("a", { n: 1 }, { metadata: { v: 1 }, expirationTtl: 120 });
    await store.put("b", { n: 2 });
    expect(await store.getWithMetadata("a")).toMatchObject({ value: { n: 1 }, metadata: { v: 1 } });
    expect(await store.get("missing")).toBeNull();
    expect([...(await store.getMany(["a", "b", "zz"]))]).toEqual([
      ["a", { n: 1 }],
      ["b", { n: 2 }],
      ["zz", null],
    ]);
    const names: string[] = [];
    for await (const k of store.keys()) names.push(k.name);
    expect(names).toEqual(["a", "b"]);
    await store.delete("a");
    expect(await store.get("a")).toBeNull();
    const stream = await kv.get("doc:b", { type: "stream" });
    expect(await new Response(stream).text()).toBe('{"n":2}');
  });

  it("a list page may be smaller than asked; paging follows result_info.cursor to the end", async () => {
    const small = await startCfApi({ pageSize: 10 });
    try {
      const k2 = remoteKv(new CfApiClient({ baseUrl: small.url, token: small.token }), small.accountId, NS);
      await k2.bulkPut(pairs(35));
      let page = await k2.list({ prefix: "k/" });
      const seen = [...page.keys];
      while (!page.list_complete) {
        page = await k2.list({ prefix: "k/", cursor: page.cursor });
        seen.push(...page.keys);
      }
      expect(seen.map((k) => k.name)).toEqual(pairs(35).map((p) => p.key));
      expect(small.counts()).toEqual({ "PUT bulk": 1, "GET keys": 4 });
    } finally {
      await small.close();
    }
  });
});

describe("the stand-in answers the documented limits with the v4 envelope", () => {
  const call = (method: string, path: string, body?: string, token = api.token) =>
    fetch(`${api.url}/accounts/${api.accountId}/storage/kv/namespaces/${NS}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body !== undefined ? { body } : {}),
    });

  it("refuses more than 10,000 pairs, nothing written", async () => {
    const res = await call("PUT", "/bulk", JSON.stringify(pairs(BULK_MAX_PAIRS + 1).map((p) => ({ key: p.key, value: p.value }))));
    expect(res.status).toBe(400);
    const env = (await res.json()) as { success: boolean; errors: { code: number; message: string }[] };
    expect(env.success).toBe(false);
    expect(env.errors[0]!.message).toContain("at most 10000");
    expect(api.namespace(NS).size).toBe(0);
  });

  it("refuses a body over 100 MB (413)", async () => {
    const res = await call("PUT", "/bulk", `[${JSON.stringify({ key: "a", value: "x".repeat(100_000_001) })}]`);
    expect(res.status).toBe(413);
  });

  it("refuses expiration_ttl under 60, a missing token (401) and a key lookup that misses (404, code 10009)", async () => {
    const ttl = await call("PUT", "/bulk", JSON.stringify([{ key: "a", value: "v", expiration_ttl: 1 }]));
    expect(((await ttl.json()) as { errors: { message: string }[] }).errors[0]!.message).toContain("Invalid expiration_ttl of 1");
    expect((await call("GET", "/values/a", undefined, "nope")).status).toBe(401);
    const miss = await call("GET", "/values/nothing");
    expect(miss.status).toBe(404);
    expect(((await miss.json()) as { errors: { code: number }[] }).errors[0]!.code).toBe(10009);
  });

  it("lists with result_info.count and an empty cursor on the last page", async () => {
    await kv.bulkPut(pairs(3));
    const env = (await (await call("GET", "/keys?prefix=k%2F")).json()) as { result: unknown[]; result_info: { count: number; cursor: string } };
    expect(env.result_info).toEqual({ count: 3, cursor: "" });
  });
});

describe("client guards", () => {
  it("reads at most the bound, then refuses", async () => {
    const body = new Response(new Uint8Array(2048)).body;
    await expect(readBounded(body, 1024, "a value")).rejects.toThrow("more than 1024 bytes");
  });

  it("redacts the token from any message the server sends back", () => {
    const c = new CfApiClient({ baseUrl: "https://api.cloudflare.com/client/v4", token: "sekrit-token-123" });
    expect(c.redact("bad token sekrit-token-123 given\n")).toBe("bad token [redacted] given\\u000a");
    // Also percent-encoded; escape sequences are escaped, and where invisible characters hide the token they are dropped.
    expect(c.redact(`a ${encodeURIComponent("sekrit-token-123")} b \u001b[2J\u009b`)).toBe("a [redacted] b \\u001b[2J\\u009b");
    expect(c.redact(`a s\u200bekrit-token-123 \u001b[2J\u009b`)).toBe("a [redacted] [2J");
  });

  it("backs off exponentially with jitter, honours Retry-After (seconds or a date) up to a cap", () => {
    expect(retryDelay(1, null, () => 0.999)).toBeLessThan(500);
    expect(retryDelay(3, null, () => 0.999)).toBeLessThan(2000);
    expect(retryDelay(3, null, () => 0.999)).toBeGreaterThan(1000);
    expect(retryDelay(1, "2", Math.random)).toBe(2000);
    expect(retryDelay(1, new Date(Date.now() + 5000).toUTCString(), Math.random)).toBeGreaterThan(3000);
    expect(retryDelay(1, "99999", Math.random)).toBe(RETRY_AFTER_MAX_MS);
  });

  it("keys become one URL segment; . and .. are refused", () => {
    expect(keySegment("a/b c%?#")).toBe("a%2Fb%20c%25%3F%23");
    expect(() => keySegment("..")).toThrow("not a legal key");
    expect(() => keySegment(".")).toThrow("not a legal key");
  });
});
