// The isolate body cache (workers/site/hot.ts): a hot small file costs no KV read
// and no Cache API lookup, byte for byte the same answer; bounded by bytes.
import { describe, expect, it } from "vitest";
import type { KvBinding } from "../../shared/kv/index.ts";
import { HotBodies, MAX_HOT_FILE_BYTES } from "../../workers/site/hot.ts";
import { handle, MAX_RESOLVED_PATHS } from "../../workers/site/handler.ts";
import { KvOps } from "../../shared/kv/ops.ts";
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

  it("answers every kind of Range on a held body from its bytes: RFC 9110 semantics, 0 KV reads, no Cache API call", async () => {
    const kv = freshKv();
    await publish(kv, { "/data.bin": small });
    const calls: string[] = [];
    const fetchSite = await site(kv, new HotBodies(), recordingCache(calls));
    const whole = await fetchSite("/data.bin");
    const etag = whole.headers.get("ETag")!;
    await whole.arrayBuffer();
    const n = small.byteLength;
    // [Range, If-Range, status, Content-Range, the bytes expected]
    const cases: [string, string | null, number, string | null, Uint8Array][] = [
      ["bytes=0-0", null, 206, `bytes 0-0/${n}`, small.subarray(0, 1)],
      ["bytes=100-199", null, 206, `bytes 100-199/${n}`, small.subarray(100, 200)],
      ["bytes=9000-", null, 206, `bytes 9000-${n - 1}/${n}`, small.subarray(9000)],
      ["bytes=-10", null, 206, `bytes ${n - 10}-${n - 1}/${n}`, small.subarray(n - 10)],
      ["bytes=-999999", null, 206, `bytes 0-${n - 1}/${n}`, small],
      ["bytes=9990-20000", null, 206, `bytes 9990-${n - 1}/${n}`, small.subarray(9990)],
      ["BYTES=5-9", null, 206, `bytes 5-9/${n}`, small.subarray(5, 10)],
      ["bytes=100-199", etag, 206, `bytes 100-199/${n}`, small.subarray(100, 200)],
      // If-Range must match strongly: a weak form, another tag or a date serve the whole body.
      ["bytes=100-199", `W/${etag}`, 200, null, small],
      ["bytes=100-199", '"other"', 200, null, small],
      ["bytes=100-199", "Mon, 07 Dec 2026 10:00:00 GMT", 200, null, small],
      // Several ranges, malformed ones and reversed ones: the whole body, as before.
      ["bytes=0-1,5-6", null, 200, null, small],
      ["bytes=5-1", null, 200, null, small],
      ["bytes=abc", null, 200, null, small],
      ["items=0-1", null, 200, null, small],
      ["bytes=-", null, 200, null, small],
    ];
    for (const [range, ifRange, status, contentRange, body] of cases) {
      const headers: Record<string, string> = { Range: range, "Accept-Encoding": "gzip, br" };
      if (ifRange !== null) headers["If-Range"] = ifRange;
      const res = await fetchSite("/data.bin", { headers });
      const what = `${range} / ${ifRange}`;
      expect(res.status, what).toBe(status);
      expect(kvReads(res), what).toBe(0);
      expect(source(res), what).toBe("isolate");
      expect(res.headers.get("Content-Range"), what).toBe(contentRange);
      expect(res.headers.get("Content-Length"), what).toBe(String(body.byteLength));
      expect(res.headers.get("ETag"), what).toBe(etag);
      expect(res.headers.get("Content-Encoding"), what).toBeNull();
      expect(new Uint8Array(await res.arrayBuffer()), what).toEqual(body);
    }
    for (const range of [`bytes=${n}-`, `bytes=${n}-${n + 10}`, "bytes=99999999999999999999-", "bytes=-0"]) {
      const res = await fetchSite("/data.bin", { headers: { Range: range } });
      expect(res.status, range).toBe(416);
      expect(res.headers.get("Content-Range"), range).toBe(`bytes */${n}`);
      expect(res.headers.get("Cache-Control"), range).toBe("no-store");
      expect(kvReads(res), range).toBe(0);
      expect(await res.text(), range).toBe("");
    }
    // A HEAD with a Range: the 206's headers, no body. A matching If-None-Match wins over Range: 304.
    const head = await fetchSite("/data.bin", { method: "HEAD", headers: { Range: "bytes=0-9" } });
    expect([head.status, head.headers.get("Content-Range"), head.headers.get("Content-Length")]).toEqual([206, `bytes 0-9/${n}`, "10"]);
    const cond = await fetchSite("/data.bin", { headers: { Range: "bytes=0-9", "If-None-Match": etag } });
    expect(cond.status).toBe(304);
    expect(kvReads(cond)).toBe(0);
    expect(calls).toEqual([]);
  });

  it("keeps answers of one held path apart: a Range, a 304 or another encoding never reuses another answer's headers", async () => {
    const kv = freshKv();
    await publish(kv, { "/site.css": css, "/_headers": "/site.css\n  X-Rule: on\n" });
    const fetchSite = await site(kv, new HotBodies());
    const gz = await fetchSite("/site.css", { headers: { "Accept-Encoding": "gzip" } });
    await gz.arrayBuffer();
    const part = await fetchSite("/site.css", { headers: { "Accept-Encoding": "gzip", Range: "bytes=0-3" } });
    expect([part.status, part.headers.get("Content-Encoding"), await part.text()]).toEqual([206, null, css.slice(0, 4)]);
    const plain = await fetchSite("/site.css");
    expect([plain.headers.get("Content-Encoding"), plain.headers.get("Content-Length"), plain.headers.get("Content-Range")]).toEqual([
      null,
      String(css.length),
      null,
    ]);
    expect(plain.headers.get("X-Rule")).toBe("on");
    const again = await fetchSite("/site.css", { headers: { "Accept-Encoding": "gzip" } });
    expect([again.headers.get("Content-Encoding"), again.headers.get("Content-Length")]).toEqual(["gzip", gz.headers.get("Content-Length")]);
    const notModified = await fetchSite("/site.css", { headers: { "If-None-Match": gz.headers.get("ETag")!, "Accept-Encoding": "gzip" } });
    expect([notModified.status, notModified.headers.get("ETag"), notModified.headers.get("Content-Length")]).toEqual([304, gz.headers.get("ETag"), null]);
    // Every answer carries one Server-Timing and the version, once.
    for (const r of [part, plain, again, notModified]) {
      expect(r.headers.get("Server-Timing")).toMatch(/^kv;desc="[^"]*";dur=[\d.]+(?:, cache;desc="\w+")?$/);
      expect(r.headers.get("x-edgekv-site-version")).toMatch(/^[\w-]+$/);
    }
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

describe("resolved paths held per version (issue 26)", () => {
  it("a held path answers from its version only: a new deploy, a rollback and a preview each resolve on their own", async () => {
    const kv = freshKv();
    const v1 = await publish(kv, { "/about.html": "one", "/index.html": "home" });
    const reader = new SiteReader(kv, { pointerTtlMs: 0 });
    const hot = new HotBodies();
    const get = async (path: string) => {
      const res = await handle(new Request(`https://www.example.test${path}`), { reader, hot });
      return [res.status, await res.text(), res.headers.get("x-edgekv-site-version")] as const;
    };
    expect(await get("/about")).toEqual([200, "one", v1]);
    expect(await get("/about")).toEqual([200, "one", v1]);
    const v2 = await publish(kv, { "/about.html": "two", "/_redirects": "/index.html /about 301\n" });
    expect(await get("/about")).toEqual([200, "two", v2]);
    // A rule of the new version applies to a path the old version held.
    const moved = await handle(new Request("https://www.example.test/index.html"), { reader, hot });
    expect([moved.status, moved.headers.get("Location")]).toEqual([301, "/about"]);
    // A path that is gone in the new version is a 404, whatever was held before.
    const v3 = await publish(kv, { "/index.html": "home" });
    expect((await get("/about"))[0]).toBe(404);
    expect(await get("/")).toEqual([200, "home", v3]);
  });

  it("holds at most MAX_RESOLVED_PATHS paths of a version; the rest still resolve", async () => {
    const kv = freshKv();
    await publish(kv, { "/index.html": "home", "/a.html": "a" });
    const reader = new SiteReader(kv);
    const index = await reader.index((await reader.pointer(new KvOps()))!.live, new KvOps());
    const held = new Map(Array.from({ length: MAX_RESOLVED_PATHS }, (_, i) => [`/x${i}`, { h: "0", s: 0, t: "text/plain" }]));
    (index as { held?: Map<string, unknown> }).held = held;
    const res = await handle(new Request("https://www.example.test/a"), { reader, hot: new HotBodies() });
    expect([res.status, await res.text()]).toEqual([200, "a"]);
    expect(held.size).toBe(MAX_RESOLVED_PATHS);
    expect(held.has("/a")).toBe(false);
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
