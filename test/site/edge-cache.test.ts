// The Cache API: used where it has an effect, never needed for a correct answer.
import { beforeAll, describe, expect, it } from "vitest";
import { SiteReader } from "../../workers/site/store.ts";
import { EDGE_CACHE_MAX_BYTES, handle } from "../../workers/site/handler.ts";
import { SAMPLE, freshKv, gunzip, kvReads, publish } from "./helpers.ts";

const big = new Uint8Array(EDGE_CACHE_MAX_BYTES + 1).map((_, i) => (i * 31) % 251);
let reader: SiteReader;
let n = 0;

beforeAll(async () => {
  const kv = freshKv();
  await publish(kv, { ...SAMPLE, "/video/big.bin": big });
  reader = new SiteReader(kv);
});

/** A site server with its own Cache API cache (real workerd cache, fresh per test). */
async function withCache(cache?: Cache) {
  const c = cache ?? (await caches.open(`site-test-${n++}`));
  const pending: Promise<unknown>[] = [];
  return {
    cache: c,
    fetch: (path: string, init: RequestInit = {}) =>
      handle(new Request(`https://www.example.test${path}`, init), { reader, waitUntil: (p) => pending.push(p), cache: c }),
    settle: () => Promise.all(pending.splice(0)),
  };
}

function edgeCache(res: Response): string | null {
  return /cache;desc="(\w+)"/.exec(res.headers.get("Server-Timing") ?? "")?.[1] ?? null;
}

describe("edge cache (Cache API)", () => {
  it("a body read once from KV is then served from the cache, byte for byte, with no KV read", async () => {
    const s = await withCache();
    await (await s.fetch("/")).arrayBuffer(); // warm the isolate: pointer, index, shard
    await s.settle();
    const again = await s.fetch("/css/site.css", { headers: { "Accept-Encoding": "identity" } });
    expect(edgeCache(again)).toBe("miss");
    expect(kvReads(again)).toBe(1);
    const body = await again.text();
    await s.settle();
    const hit = await s.fetch("/css/site.css", { headers: { "Accept-Encoding": "identity" } });
    expect(edgeCache(hit)).toBe("hit");
    expect(kvReads(hit)).toBe(0);
    expect(hit.headers.get("ETag")).toBe(again.headers.get("ETag"));
    expect(hit.headers.get("Content-Type")).toBe("text/css; charset=utf-8");
    expect(await hit.text()).toBe(body);
  });

  it("keeps each encoding apart: a gzip hit is still gzip", async () => {
    const s = await withCache();
    const gz = { headers: { "Accept-Encoding": "gzip" } };
    await (await s.fetch("/css/site.css", gz)).arrayBuffer();
    await s.settle();
    const hit = await s.fetch("/css/site.css", gz);
    expect(edgeCache(hit)).toBe("hit");
    expect(hit.headers.get("Content-Encoding")).toBe("gzip");
    const plain = new TextDecoder().decode(await gunzip(await hit.arrayBuffer()));
    expect(plain).toBe(SAMPLE["/css/site.css"]);
  });

  it("ranges, HEAD, 304 and bodies over EDGE_CACHE_MAX_BYTES do not touch the cache", async () => {
    const s = await withCache();
    const range = await s.fetch("/css/site.css", { headers: { Range: "bytes=0-9" } });
    expect(range.status).toBe(206);
    expect(edgeCache(range)).toBeNull();
    const head = await s.fetch("/css/site.css", { method: "HEAD" });
    expect(edgeCache(head)).toBeNull();
    const large = await s.fetch("/video/big.bin");
    expect(edgeCache(large)).toBeNull();
    expect((await large.arrayBuffer()).byteLength).toBe(big.byteLength);
  });

  it("a cache that fails is ignored: the answer comes from KV", async () => {
    const broken = {
      match: () => Promise.reject(new Error("cache down")),
      put: () => Promise.reject(new Error("cache down")),
    } as unknown as Cache;
    const s = await withCache(broken);
    const res = await s.fetch("/about", { headers: { "Accept-Encoding": "identity" } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(SAMPLE["/about.html"]);
    await s.settle();
  });
});
