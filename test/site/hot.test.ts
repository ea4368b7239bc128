// The isolate body cache (workers/site/hot.ts): a hot small file costs no KV read
// and no Cache API lookup, byte for byte the same answer; bounded by bytes.
import { describe, expect, it } from "vitest";
import type { KvBinding } from "../../shared/kv/index.ts";
import { HotBodies, MAX_HOT_FILE_BYTES } from "../../workers/site/hot.ts";
import { handle } from "../../workers/site/handler.ts";
import { SiteReader } from "../../workers/site/store.ts";
import { freshKv, gunzip, kvReads, publish } from "./helpers.ts";

const bytes = (n: number, seed = 7) => new Uint8Array(n).map((_, i) => (i * seed + 3) % 251);
const small = bytes(10_000);
const big = bytes(MAX_HOT_FILE_BYTES + 1, 11);
const css = "body { color: teal; }\n".repeat(200);

/** A cache that records every call and never holds anything: the hot path must not call it. */
function recordingCache(calls: string[]): Cache {
  return {
    match: async () => {
      calls.push("match");
      return undefined;
    },
    put: async () => {
      calls.push("put");
    },
  } as unknown as Cache;
}

async function site(kv: KvBinding, hot: HotBodies, cache?: Cache) {
  const reader = new SiteReader(kv);
  const pending: Promise<unknown>[] = [];
  return (path: string, init: RequestInit = {}) =>
    handle(new Request(`https://www.example.test${path}`, init), { reader, hot, waitUntil: (p) => pending.push(p), ...(cache ? { cache } : {}) });
}

const source = (res: Response) => /cache;desc="(\w+)"/.exec(res.headers.get("Server-Timing") ?? "")?.[1] ?? null;

describe("isolate body cache", () => {
  it("serves a hot small file with no KV read and no Cache API call, byte for byte", async () => {
    const kv = freshKv();
    await publish(kv, { "/index.html": "home", "/data.bin": small });
    const calls: string[] = [];
    const fetchSite = await site(kv, new HotBodies(), recordingCache(calls));
    const first = await fetchSite("/data.bin");
    expect(new Uint8Array(await first.arrayBuffer())).toEqual(small);
    expect(kvReads(first)).toBeGreaterThan(0);
    const again = await fetchSite("/data.bin");
    expect(source(again)).toBe("isolate");
    expect(kvReads(again)).toBe(0);
    expect(again.headers.get("Content-Length")).toBe(String(small.byteLength));
    expect(again.headers.get("ETag")).toBe(first.headers.get("ETag"));
    expect(new Uint8Array(await again.arrayBuffer())).toEqual(small);
    expect(calls).toEqual([]);
  });

  it("answers ranges of a held body from the isolate", async () => {
    const kv = freshKv();
    await publish(kv, { "/data.bin": small });
    const fetchSite = await site(kv, new HotBodies());
    await (await fetchSite("/data.bin")).arrayBuffer();
    const part = await fetchSite("/data.bin", { headers: { Range: "bytes=100-199" } });
    expect(part.status).toBe(206);
    expect(kvReads(part)).toBe(0);
    expect(part.headers.get("Content-Range")).toBe(`bytes 100-199/${small.byteLength}`);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(small.subarray(100, 200));
  });

  it("holds each stored encoding apart: a gzip request never gets the identity bytes", async () => {
    const kv = freshKv();
    await publish(kv, { "/site.css": css });
    const fetchSite = await site(kv, new HotBodies());
    const plain = { headers: { "Accept-Encoding": "identity" } };
    const gz = { headers: { "Accept-Encoding": "gzip" } };
    await (await fetchSite("/site.css", plain)).arrayBuffer();
    await (await fetchSite("/site.css", gz)).arrayBuffer();
    const hotGz = await fetchSite("/site.css", gz);
    expect(source(hotGz)).toBe("isolate");
    expect(hotGz.headers.get("Content-Encoding")).toBe("gzip");
    expect(new TextDecoder().decode(await gunzip(await hotGz.arrayBuffer()))).toBe(css);
    const hotPlain = await fetchSite("/site.css", plain);
    expect(hotPlain.headers.get("Content-Encoding")).toBeNull();
    expect(await hotPlain.text()).toBe(css);
  });

  it("does not hold files over MAX_HOT_FILE_BYTES: they are read again", async () => {
    const kv = freshKv();
    await publish(kv, { "/big.bin": big });
    const hot = new HotBodies();
    const fetchSite = await site(kv, hot);
    expect((await (await fetchSite("/big.bin")).arrayBuffer()).byteLength).toBe(big.byteLength);
    const again = await fetchSite("/big.bin");
    expect(source(again)).not.toBe("isolate");
    expect(kvReads(again)).toBeGreaterThan(0);
    expect(new Uint8Array(await again.arrayBuffer())).toEqual(big);
    expect(hot.bytes).toBe(0);
  });

  it("never holds or serves a short read: KV returning fewer bytes than the manifest says is a 503", async () => {
    const kv = freshKv();
    await publish(kv, { "/data.bin": small });
    // Fault injection around the real binding: blobs come back truncated.
    const truncating: KvBinding = {
      ...kv,
      getWithMetadata: (async (k: string, o: never) => {
        const r = (await kv.getWithMetadata(k as never, o)) as { value: unknown; metadata: unknown; cacheStatus: null };
        if (!k.startsWith("site:b:") || !(r.value instanceof ReadableStream)) return r;
        const all = new Uint8Array(await new Response(r.value).arrayBuffer());
        return { ...r, value: new Blob([all.subarray(0, 10)]).stream() };
      }) as KvBinding["getWithMetadata"],
    };
    const hot = new HotBodies();
    const fetchSite = await site(truncating, hot);
    const res = await fetchSite("/data.bin");
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toBe("blob_incomplete");
    expect(hot.bytes).toBe(0);
  });
});

describe("HotBodies", () => {
  it("evicts the least recently used bodies to stay within its byte bound", () => {
    const hot = new HotBodies(300, 200);
    hot.set("a", bytes(100));
    hot.set("b", bytes(100));
    hot.get("a"); // b is now the least recently used
    hot.set("c", bytes(150));
    expect(hot.get("b")).toBeUndefined();
    expect(hot.get("a")?.byteLength).toBe(100);
    expect(hot.get("c")?.byteLength).toBe(150);
    expect(hot.bytes).toBe(250);
  });

  it("refuses a body over the per-file bound, and counts a replaced body once", () => {
    const hot = new HotBodies(1000, 200);
    hot.set("x", bytes(201));
    expect(hot.get("x")).toBeUndefined();
    hot.set("y", bytes(100));
    hot.set("y", bytes(100));
    expect(hot.bytes).toBe(100);
  });
});
