import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { KvBinding } from "../../shared/kv/index.ts";
import { listBlobMarkers, publishSite, siteStores } from "../../cli/site/publish.ts";
import { gc, listVersions, rollback } from "../../cli/site/versions.ts";
import { POINTER_MAX_AGE_MS } from "../../workers/site/store.ts";
import { MAX_HOT_FILE_BYTES } from "../../workers/site/hot.ts";
import { SAMPLE, freshKv, kvReads, publish, server } from "./helpers.ts";

const enc = new TextEncoder();

describe("_redirects and _headers", () => {
  const site = {
    "/index.html": "home",
    "/about.html": "about",
    "/blog/hello.html": "hello",
    "/docs/api/index.html": "api",
    "/_redirects": [
      "/old /about 301",
      "/temp /about",
      "/blog/archive/* /blog/:splat 308",
      "/posts/:year/:slug /blog/:slug 303",
      "/ext https://example.com/x 307",
      "/app/* /index.html 200",
      "/about /index.html 302",
    ].join("\n"),
    "/_headers": [
      "/*",
      "  X-Frame-Options: DENY",
      "/about",
      "  ! Referrer-Policy",
      "  Cache-Control: public, max-age=60",
      "/docs/:section/*",
      "  X-Section: :section",
      "/docs/*",
      "  X-Frame-Options: SAMEORIGIN",
    ].join("\n"),
  };

  it("redirects with the rule's status, splats and placeholders, reading no KV", async () => {
    const kv = freshKv();
    await publish(kv, site);
    const s = server(kv);
    const cases: [string, number, string][] = [
      ["/old", 301, "/about"],
      ["/temp", 302, "/about"],
      ["/blog/archive/2024/a%20b", 308, "/blog/2024/a%20b"],
      ["/posts/2024/hello", 303, "/blog/hello"],
      ["/ext", 307, "https://example.com/x"],
      ["/about", 302, "/index.html"],
    ];
    await s.fetch("/");
    for (const [path, status, location] of cases) {
      const res = await s.fetch(path);
      expect(res.status, path).toBe(status);
      expect(res.headers.get("Location"), path).toBe(location);
      expect(kvReads(res), path).toBe(0);
    }
  });

  it("a 200 rule serves the target file under the original URL", async () => {
    const kv = freshKv();
    await publish(kv, site);
    const res = await server(kv).fetch("/app/deep/link");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("home");
  });

  it("sets, appends, unsets and fills placeholders in headers", async () => {
    const kv = freshKv();
    await publish(kv, { ...site, "/_redirects": "" });
    const s = server(kv);
    const about = await s.fetch("/about");
    expect(about.headers.get("Cache-Control")).toBe("public, max-age=60");
    expect(about.headers.get("Referrer-Policy")).toBeNull();
    expect(about.headers.get("X-Frame-Options")).toBe("DENY");
    const api = await s.fetch("/docs/api/");
    expect(api.headers.get("X-Section")).toBe("api");
    expect(api.headers.get("X-Frame-Options")).toBe("DENY, SAMEORIGIN");
    expect(api.headers.get("Referrer-Policy")).toBe("strict-origin-when-cross-origin");
    // Rules apply to 404s too.
    expect((await s.fetch("/nope")).headers.get("X-Frame-Options")).toBe("DENY");
  });
});

describe("deploys", () => {
  it("a pointer flip is served within POINTER_MAX_AGE_MS, and within seconds under traffic", async () => {
    const kv = freshKv();
    let now = Date.now();
    const v1 = await publish(kv, { "/index.html": "one" });
    const s = server(kv, () => now);
    expect(await (await s.fetch("/")).text()).toBe("one");
    const v2 = await publish(kv, { "/index.html": "two" }, { now: () => now + 1 });
    expect(v2).not.toBe(v1);
    now += 6_000; // past POINTER_FRESH_MS: this request still sees v1 and refreshes in the background
    expect((await s.fetch("/")).headers.get("x-edgekv-site-version")).toBe(v1);
    await s.settle();
    const after = await s.fetch("/");
    expect(after.headers.get("x-edgekv-site-version")).toBe(v2);
    expect(await after.text()).toBe("two");
    // Without traffic, the first request after POINTER_MAX_AGE_MS reads the pointer first.
    await publish(kv, { "/index.html": "three" }, { now: () => now + 2 });
    now += POINTER_MAX_AGE_MS + 1;
    expect(await (await s.fetch("/")).text()).toBe("three");
  });

  it("keeps serving fingerprinted assets of previous versions (version skew)", async () => {
    const kv = freshKv();
    const v1 = await publish(kv, { "/index.html": "one", "/app.1a2b3c4d5e.js": "old js", "/plain.js": "old plain" });
    const v2 = await publish(kv, { "/index.html": "two", "/app.9f8e7d6c5b.js": "new js" });
    const s = server(kv);
    const old = await s.fetch("/app.1a2b3c4d5e.js");
    expect(old.status).toBe(200);
    expect(await old.text()).toBe("old js");
    expect(old.headers.get("x-edgekv-site-version")).toBe(v1);
    expect((await s.fetch("/app.9f8e7d6c5b.js")).headers.get("x-edgekv-site-version")).toBe(v2);
    expect((await s.fetch("/plain.js")).status).toBe(404);
  });

  it("falls back to the previous version while the new one is not visible here", async () => {
    const kv = freshKv();
    const v1 = await publish(kv, { "/index.html": "one" });
    const stores = siteStores(kv);
    await stores.pointer.put("live", { v: 1, live: "not-yet-visible", previous: [v1], at: Date.now() });
    const res = await server(kv).fetch("/");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("one");
    expect(res.headers.get("x-edgekv-site-version")).toBe(v1);
  });

  it("an unchanged redeploy writes nothing; a changed one uploads only new blobs", async () => {
    const kv = freshKv();
    let puts = 0;
    const counting: KvBinding = { ...kv, put: (k, v, o) => (puts++, kv.put(k, v, o)) };
    const files = Object.entries(SAMPLE).map(([path, c]) => ({ path, load: async () => (typeof c === "string" ? enc.encode(c) : c) }));
    const first = await publishSite(counting, { files, now: Date.now });
    expect(first.newBlobs).toBe(Object.keys(SAMPLE).length);
    puts = 0;
    const again = await publishSite(counting, { files, now: Date.now });
    expect(again).toMatchObject({ unchanged: true, newBlobs: 0, version: first.version });
    expect(puts).toBe(0);
    const changed = await publishSite(counting, { files: [...files, { path: "/new.txt", load: async () => enc.encode("new") }], now: Date.now });
    expect(changed.newBlobs).toBe(1);
    expect(changed.unchanged).toBe(false);
  });

  it("a deploy killed at any write leaves the live site as it was, and the next deploy completes", async () => {
    const kv = freshKv();
    const v1 = await publish(kv, { "/index.html": "one", "/a.css": "a{}" });
    const next = { "/index.html": "two", "/b.css": "b{}", "/c.js": "c()" };
    for (let killAt = 0; ; killAt++) {
      let writes = 0;
      const dying: KvBinding = {
        ...kv,
        put: (k, v, o) => {
          if (writes++ === killAt) throw new Error("killed");
          return kv.put(k, v, o);
        },
      };
      const outcome = await publish(dying, next).then(
        (v) => v,
        () => null,
      );
      const s = server(kv);
      if (outcome === null) {
        const res = await s.fetch("/");
        expect(await res.text()).toBe("one");
        expect(res.headers.get("x-edgekv-site-version")).toBe(v1);
        continue;
      }
      expect(await (await s.fetch("/")).text()).toBe("two");
      // Each retry skips the blobs already stored, so kills land on blobs, shards, index and pointer in turn.
      expect(killAt).toBeGreaterThan(1);
      break;
    }
  });
});

describe("versions, rollback, gc", () => {
  it("lists versions, rolls back with one write, and gc deletes only unused blobs", async () => {
    const kv = freshKv();
    let t = Date.now() - 10 * 3600_000;
    const now = () => (t += 1000);
    const v1 = await publish(kv, { "/index.html": "one", "/shared.css": "s{}" }, { now });
    const v2 = await publish(kv, { "/index.html": "two", "/shared.css": "s{}" }, { now });
    const v3 = await publish(kv, { "/index.html": "three", "/shared.css": "s{}" }, { now, keepPrevious: 1 });
    const stores = siteStores(kv, now);
    const { versions, pointer } = await listVersions(stores);
    expect(versions.map((v) => v.id)).toEqual([v3, v2, v1]);
    expect(pointer).toMatchObject({ live: v3, previous: [v2] });

    let puts = 0;
    const counting = siteStores({ ...kv, put: (k, v, o) => (puts++, kv.put(k, v, o)) }, now);
    expect(await rollback(counting, undefined, now)).toEqual({ from: v3, to: v2 });
    expect(puts).toBe(1);
    const s = server(kv);
    expect(await (await s.fetch("/")).text()).toBe("two");
    await expect(rollback(stores, "nope", now)).rejects.toThrow(/not found/);

    // keep 1: v2 is live, v3 is kept for skew; v1 and its own blob go.
    const before = await listBlobMarkers(stores);
    const r = await gc(stores, { keep: 1, graceMs: 0, now: () => Date.now() });
    expect(r.deletedVersions).toEqual([v1]);
    expect(r.deletedBlobs).toBeGreaterThan(0);
    const after = await listBlobMarkers(stores);
    expect(after.size).toBe(before.size - 1);
    expect(await (await server(kv).fetch("/shared.css")).text()).toBe("s{}");
    expect((await listVersions(stores)).versions.map((v) => v.id)).toEqual([v3, v2]);
  });

  it("gc spares blobs uploaded within the grace period (a deploy in progress)", async () => {
    const kv = freshKv();
    const files = [{ path: "/index.html", load: async () => enc.encode("x") }];
    await publishSite(kv, { files, now: Date.now });
    // Blobs of a deploy that has not written its manifest yet:
    await publishSite(
      { ...kv, put: (k, v, o) => (k.startsWith("site:b:") ? kv.put(k, v, o) : Promise.reject(new Error("killed"))) },
      {
        files: [{ path: "/index.html", load: async () => enc.encode("pending") }],
        now: Date.now,
      },
    ).catch(() => undefined);
    const stores = siteStores(kv);
    expect((await gc(stores, { now: Date.now })).deletedBlobs).toBe(0);
    expect((await gc(stores, { now: () => Date.now() + 2 * 3600_000 })).deletedBlobs).toBe(1);
  });
});

describe("KV failures", () => {
  it("answer 503 with Retry-After and a short JSON body, never a 500", async () => {
    const kv = freshKv();
    await publish(kv, SAMPLE);
    const down = () => Promise.reject(new Error("KV GET failed: 500"));
    // The reader uses getWithMetadata (KvReader); break both read calls.
    const broken: KvBinding = { ...kv, get: down as unknown as KvBinding["get"], getWithMetadata: down as unknown as KvBinding["getWithMetadata"] };
    const res = await server(broken).fetch("/");
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toBe("5");
    expect(((await res.json()) as { error: string }).error).toBe("kv_unavailable");
  });

  it("serves the last pointer held when KV fails (stale-on-error)", async () => {
    const kv = freshKv();
    let fail = false;
    let now = Date.now();
    const flaky: KvBinding = {
      ...kv,
      get: ((k: string, o: never) => (fail ? Promise.reject(new Error("down")) : kv.get(k as never, o))) as KvBinding["get"],
      getWithMetadata: ((k: string, o: never) =>
        fail ? Promise.reject(new Error("down")) : kv.getWithMetadata(k as never, o)) as KvBinding["getWithMetadata"],
    };
    await publish(kv, { "/index.html": "x" });
    const s = server(flaky, () => now);
    await (await s.fetch("/")).text();
    fail = true;
    now += POINTER_MAX_AGE_MS + 1;
    const res = await s.fetch("/", { headers: { "If-None-Match": "*" } });
    expect(res.status).toBe(304);
    expect(res.headers.get("Server-Timing")).toContain("stale=1");
  });

  it("a manifest entry whose blob is missing is a logged 503", async () => {
    const kv = freshKv();
    await publish(kv, { "/index.html": "x" });
    const s = server({
      ...kv,
      get: ((k: string, o: never) => (k.startsWith("site:b:") ? Promise.resolve(null) : kv.get(k as never, o))) as KvBinding["get"],
      getWithMetadata: ((k: string, o: never) =>
        k.startsWith("site:b:")
          ? Promise.resolve({ value: null, metadata: null, cacheStatus: null })
          : kv.getWithMetadata(k as never, o)) as KvBinding["getWithMetadata"],
    });
    const res = await s.fetch("/");
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toBe("blob_missing");
  });
});

// Larger than the isolate holds: served through the Cache API on a custom domain.
const medium = "m".repeat(MAX_HOT_FILE_BYTES + 1);

describe("the Worker entry point", () => {
  it("serves SITE_KV through exports.default.fetch", async () => {
    // One deploy for the describe: the entry's isolate holds the live pointer for POINTER_FRESH_MS.
    await publish(env.SITE_KV as unknown as KvBinding, { "/index.html": "entry", "/medium.txt": medium });
    const worker = (exports as unknown as { default: { fetch(r: Request): Promise<Response> } }).default;
    const res = await worker.fetch(new Request("http://site.test/"));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("entry");
    expect(res.headers.get("Server-Timing")).toMatch(/^kv;desc="reads=\d+/);
  });

  it("holds small bodies in the isolate; uses the Cache API for larger ones on a custom domain, and skips it on workers.dev", async () => {
    const worker = (exports as unknown as { default: { fetch(r: Request): Promise<Response> } }).default;
    const get = async (url: string, body: string) => {
      const res = await worker.fetch(new Request(url, { headers: { "Accept-Encoding": "identity" } }));
      expect(await res.text()).toBe(body);
      return res.headers.get("Server-Timing") ?? "";
    };
    // A small file: read from KV once per isolate (at most), then from the isolate with no KV read.
    await get("https://www.example.test/", "entry");
    const hot = await get("https://www.example.test/", "entry");
    expect(hot).toContain('cache;desc="isolate"');
    expect(hot).toMatch(/reads=0/);
    expect(await get("https://edgekv-site.someone.workers.dev/", "entry")).toContain('cache;desc="isolate"');
    expect(await get("https://www.example.test/medium.txt", medium)).toMatch(/cache;desc="(hit|miss)"/);
    expect(await get("https://edgekv-site.someone.workers.dev/medium.txt", medium)).not.toContain("cache;");
  });
});
