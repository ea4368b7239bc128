// A preview is never kept by a shared cache (issue 20, class 3): whatever `_headers` says, and
// whatever the status, a response chosen by a preview (cookie, link, preview host) leaves as
// `private, no-store` with no other caching header a CDN or proxy obeys; with preview links on,
// every response says `Vary: Cookie`; and neither the Cache API nor the isolate's hot cache hands
// a preview body to a live request. test/security/site-preview-shared-cache.test.ts puts nginx in front.
import { beforeAll, describe, expect, it } from "vitest";
import { PREVIEW_PARAM, signPreview } from "../../workers/site/preview.ts";
import { HotBodies } from "../../workers/site/hot.ts";
import { EDGE_CACHE_MAX_BYTES, handle, type Deps } from "../../workers/site/handler.ts";
import { SiteReader } from "../../workers/site/store.ts";
import { freshKv, publish } from "./helpers.ts";

const SECRET = "p".repeat(32);
const HOST = "preview.example.com";
const now = () => Math.floor(Date.now() / 1000);

/** `_headers` a site may hold, each of which would let a cache keep a response. */
const HOSTILE: Record<string, string> = {
  "s-maxage": "/*\n  Cache-Control: max-age=300, s-maxage=600\n",
  "capitalised Public": "/*\n  Cache-Control: Public, max-age=600\n",
  "two appended values": "/*\n  Cache-Control: public\n/*\n  Cache-Control: max-age=600\n",
  "CDN-Cache-Control and vendors":
    "/*\n  CDN-Cache-Control: max-age=600\n  Cloudflare-CDN-Cache-Control: max-age=600\n  Fastly-CDN-Cache-Control: max-age=600\n",
  "Surrogate-Control, Edge-Control": "/*\n  Surrogate-Control: max-age=600\n  Edge-Control: cache-maxage=600s\n",
  "Expires without Cache-Control": "/*\n  ! Cache-Control\n  Expires: Thu, 01 Jan 2099 00:00:00 GMT\n  Pragma: public\n",
  "X-Accel-Expires (nginx obeys it over Cache-Control)": "/*\n  X-Accel-Expires: 600\n",
  "lower-case names": "/*\n  cache-control: public, max-age=600\n  surrogate-control: max-age=600\n  cdn-cache-control: max-age=600\n",
};
const KEEPERS = [
  "CDN-Cache-Control",
  "Cloudflare-CDN-Cache-Control",
  "Fastly-CDN-Cache-Control",
  "Surrogate-Control",
  "Edge-Control",
  "X-Accel-Expires",
  "Expires",
  "Pragma",
];

const small = (tag: string) => `<p>${tag} page</p>`;
const sized = (n: number, fill: number) => new Uint8Array(n).fill(fill);
const HOT_SIZE = 1000; // held by the isolate (hot.ts)
const EDGE_SIZE = 300 * 1024; // too big for hot.ts, small enough for the Cache API

interface Site {
  reader: SiteReader;
  live: string;
  preview: string;
}

async function site(headers: string): Promise<Site> {
  const kv = freshKv();
  const files = (tag: string, fill: number) => ({
    "/index.html": small(tag),
    "/about.html": small(`${tag} about`),
    "/long.html": `<p>${tag}</p>${"compressible text ".repeat(200)}`,
    "/hot.bin": sized(HOT_SIZE, fill),
    "/edge.bin": sized(EDGE_SIZE, fill),
    "/404.html": `${tag} not found`,
    "/_headers": headers,
    "/_redirects": "/old /about 301\n",
  });
  const live = await publish(kv, files("live", 1));
  const preview = await publish(kv, files("preview", 2), { preview: true, now: () => Date.now() + 2_000 });
  return { reader: new SiteReader(kv), live, preview };
}

type Way = "cookie" | "link" | "host";
const WAYS: Way[] = ["cookie", "link", "host"];

/** A request into `s.preview` the given way (the link's answer is its 302). */
async function viaPreview(s: Site, way: Way, path: string, init: RequestInit = {}, deps: Partial<Deps> = {}): Promise<Response> {
  const token = await signPreview(SECRET, s.preview, now() + 3600);
  const headers = new Headers(init.headers);
  let url = `https://www.example.test${path}`;
  if (way === "cookie") headers.set("Cookie", `a=1; edgekv_preview=${token}`);
  if (way === "link") url += `${path.includes("?") ? "&" : "?"}${PREVIEW_PARAM}=${token}`;
  if (way === "host") url = `https://${s.preview.toLowerCase()}.${HOST}${path}`;
  return handle(new Request(url, { ...init, headers }), { reader: s.reader, preview: { host: HOST, secret: SECRET }, ...deps });
}

function expectUncacheable(res: Response, label: string): void {
  expect(res.headers.get("Cache-Control"), label).toBe("private, no-store");
  for (const k of KEEPERS) expect(res.headers.get(k), `${label}: ${k}`).toBeNull();
  expect(res.headers.get("X-Robots-Tag"), label).toBe("noindex");
}

describe("a response chosen by a preview is private, no-store whatever _headers says", () => {
  const sites: Record<string, Site> = {};
  beforeAll(async () => {
    for (const [name, h] of Object.entries(HOSTILE)) sites[name] = await site(h);
  }, 60_000);

  it("every way in, every status: 200, 304, 404, 206, 416, a _redirects 301, a canonical 307, HEAD, and the link's 302", async () => {
    for (const [name, s] of Object.entries(sites)) {
      for (const way of WAYS) {
        const label = `${name} via ${way}`;
        if (way === "link") {
          const swap = await viaPreview(s, way, "/about");
          expect(swap.status, label).toBe(302);
          expectUncacheable(swap, `${label} 302`);
          continue;
        }
        const page = await viaPreview(s, way, "/");
        expect(await page.text(), label).toBe(small("preview"));
        expectUncacheable(page, `${label} 200`);
        const etag = page.headers.get("ETag")!;
        const cases: [string, RequestInit, number][] = [
          ["/", { headers: { "If-None-Match": etag } }, 304],
          ["/missing", {}, 404],
          ["/edge.bin", { headers: { Range: "bytes=0-9" } }, 206],
          ["/edge.bin", { headers: { Range: "bytes=999999999-" } }, 416],
          ["/old", {}, 301],
          ["/about.html", {}, 307],
          ["/about", { method: "HEAD" }, 200],
        ];
        for (const [path, init, status] of cases) {
          const res = await viaPreview(s, way, path, init);
          expect(res.status, `${label} ${path}`).toBe(status);
          expectUncacheable(res, `${label} ${path} ${status}`);
          await res.arrayBuffer();
        }
      }
    }
  });

  it("the live site keeps its own caching headers (the rules apply there as written)", async () => {
    const s = sites["s-maxage"]!;
    const res = await handle(new Request("https://www.example.test/"), { reader: s.reader, preview: { host: HOST, secret: SECRET } });
    expect(await res.text()).toBe(small("live"));
    expect(res.headers.get("Cache-Control")).toBe("max-age=300, s-maxage=600");
    expect(res.headers.get("X-Robots-Tag")).toBeNull();
  });
});

describe("Vary: Cookie when the answer depends on the preview cookie", () => {
  let s: Site;
  beforeAll(async () => {
    s = await site("/vary\n  Vary: cookie\n/star\n  Vary: *\n/multi\n  Vary: Origin\n/multi\n  Vary: X-Cookie-Jar\n");
  });
  const get = (path: string, secret: string | undefined, init: RequestInit = {}) =>
    handle(new Request(`https://www.example.test${path}`, init), { reader: s.reader, preview: { host: HOST, secret } });
  const varyList = (res: Response) => (res.headers.get("Vary") ?? "").split(",").map((v) => v.trim().toLowerCase());

  it("with PREVIEW_SECRET set, every live response names Cookie once, merged with what is there", async () => {
    for (const [path, init] of [
      ["/", {}],
      ["/long", { headers: { "Accept-Encoding": "gzip" } }],
      ["/missing", {}],
      ["/old", {}],
      [`/?${PREVIEW_PARAM}=junk`, {}],
      ["/", { headers: { Cookie: "edgekv_preview=forged.1.x" } }],
    ] as [string, RequestInit][]) {
      const res = await get(path, SECRET, init);
      expect(
        varyList(res).filter((v) => v === "cookie"),
        path,
      ).toHaveLength(1);
      await res.arrayBuffer();
    }
    const gz = await get("/long", SECRET, { headers: { "Accept-Encoding": "gzip" } });
    expect(varyList(gz)).toEqual(["accept-encoding", "cookie"]);
    expect(varyList(await get("/vary", SECRET))).toEqual(["cookie"]);
    expect(varyList(await get("/star", SECRET))).toEqual(["*"]);
    // A name that merely contains "cookie" is not Cookie.
    expect(varyList(await get("/multi", SECRET))).toEqual(["origin", "x-cookie-jar", "cookie"]);
  });

  it("without PREVIEW_SECRET (no links, no cookie), nothing is added", async () => {
    const res = await get("/", undefined);
    expect(res.headers.get("Vary")).toBeNull();
  });
});

describe("the Cache API and the isolate never hand a preview body to a live request", () => {
  it("keys are the body's content hash: a live request after a preview gets the live bytes, hot and edge", async () => {
    const s = await site("/*\n  Cache-Control: public, max-age=600\n");
    const cache = await caches.open(`preview-cache-${Date.now()}`);
    const hot = new HotBodies();
    const pending: Promise<unknown>[] = [];
    const deps = { cache, hot, waitUntil: (p: Promise<unknown>) => void pending.push(p) };
    const live = (path: string) =>
      handle(new Request(`https://www.example.test${path}`, { headers: { "Accept-Encoding": "identity" } }), {
        reader: s.reader,
        preview: { host: HOST, secret: SECRET },
        ...deps,
      });
    expect(EDGE_SIZE).toBeLessThanOrEqual(EDGE_CACHE_MAX_BYTES);
    for (const way of ["cookie", "host"] as const) {
      for (const [path, size] of [
        ["/hot.bin", HOT_SIZE],
        ["/edge.bin", EDGE_SIZE],
      ] as const) {
        for (let round = 0; round < 2; round++) {
          const p = await viaPreview(s, way, path, { headers: { "Accept-Encoding": "identity" } }, deps);
          expect(new Uint8Array(await p.arrayBuffer()), `${way} ${path}`).toEqual(sized(size, 2));
          await Promise.all(pending.splice(0));
          const l = await live(path);
          expect(l.headers.get("x-edgekv-site-version")).toBe(s.live);
          expect(new Uint8Array(await l.arrayBuffer()), `live ${path} after ${way}`).toEqual(sized(size, 1));
          await Promise.all(pending.splice(0));
        }
      }
    }
    // Both versions' bodies were kept, each under its own hash: the second round came from the caches.
    const served = await viaPreview(s, "cookie", "/edge.bin", { headers: { "Accept-Encoding": "identity" } }, deps);
    expect(served.headers.get("Server-Timing")).toContain('cache;desc="hit"');
    expect(new Uint8Array(await served.arrayBuffer())).toEqual(sized(EDGE_SIZE, 2));
    const hotLive = await live("/hot.bin");
    expect(hotLive.headers.get("Server-Timing")).toContain('cache;desc="isolate"');
    expect(new Uint8Array(await hotLive.arrayBuffer())).toEqual(sized(HOT_SIZE, 1));
  });
});
