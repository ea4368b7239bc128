import { beforeAll, describe, expect, it } from "vitest";
import { SAMPLE, freshKv, gunzip, kvReads, publish, server } from "./helpers.ts";

const dec = new TextDecoder();
let s: ReturnType<typeof server>;
let version: string;

beforeAll(async () => {
  const kv = freshKv();
  version = await publish(kv, SAMPLE);
  s = server(kv);
});

describe("basics", () => {
  it("serves / from index.html with type, ETag, version and security headers", async () => {
    const res = await s.fetch("/");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("<h1>home</h1>");
    expect(res.headers.get("Content-Type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("ETag")).toMatch(/^"[0-9a-f]{64}"$/);
    expect(res.headers.get("x-edgekv-site-version")).toBe(version);
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("Referrer-Policy")).toBe("strict-origin-when-cross-origin");
    expect(res.headers.get("Accept-Ranges")).toBe("bytes");
    expect(res.headers.get("Content-Length")).toBe("13");
  });

  it("answers other methods with 405 and Allow", async () => {
    for (const method of ["POST", "PUT", "DELETE", "OPTIONS"]) {
      const res = await s.fetch("/", { method });
      expect(res.status).toBe(405);
      expect(res.headers.get("Allow")).toBe("GET, HEAD");
    }
  });

  it("HEAD has GET's headers, no body, and reads no KV once warm", async () => {
    const get = await s.fetch("/css/site.css");
    await get.arrayBuffer();
    const head = await s.fetch("/css/site.css", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.body).toBeNull();
    for (const h of ["Content-Type", "ETag", "Content-Length", "Cache-Control", "Accept-Ranges", "Vary"]) {
      expect(head.headers.get(h)).toBe(get.headers.get(h));
    }
    expect(kvReads(head)).toBe(0);
    expect(kvReads(await s.fetch("/css/site.css"))).toBe(1);
  });

  it("answers If-None-Match with 304 (lists, weak, *) without reading KV", async () => {
    const etag = (await s.fetch("/about")).headers.get("ETag")!;
    for (const inm of [etag, `"nope", ${etag}`, `W/${etag}`, "*"]) {
      const res = await s.fetch("/about", { headers: { "If-None-Match": inm } });
      expect(res.status).toBe(304);
      expect(res.headers.get("ETag")).toBe(etag);
      expect(kvReads(res)).toBe(0);
    }
    expect((await s.fetch("/about", { headers: { "If-None-Match": '"other"' } })).status).toBe(200);
  });

  it("a 304 repeats the validator and caching headers of the 200 (RFC 9110 15.4.5), with _headers rules for Cache-Control", async () => {
    const kv = freshKv();
    await publish(kv, { "/page.html": "<p>x</p>".repeat(100), "/_headers": "/page\n  Cache-Control: public, max-age=60\n" });
    const app = server(kv);
    const full = await app.fetch("/page", { headers: { "Accept-Encoding": "gzip" } });
    const etag = full.headers.get("ETag")!;
    const res = await app.fetch("/page", { headers: { "Accept-Encoding": "gzip", "If-None-Match": etag } });
    expect(res.status).toBe(304);
    expect(res.headers.get("ETag")).toBe(etag);
    expect(res.headers.get("Cache-Control")).toBe("public, max-age=60");
    expect(res.headers.get("Vary")).toBe(full.headers.get("Vary"));
    // Body headers belong to a body: a 304 has none.
    expect(res.headers.get("Content-Type")).toBeNull();
    expect(res.headers.get("Content-Encoding")).toBeNull();
  });

  it("serves an empty file", async () => {
    const res = await s.fetch("/empty.txt");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("");
    expect(res.headers.get("Content-Type")).toBe("text/plain; charset=utf-8");
  });
});

describe("paths", () => {
  it("serves clean URLs and directory indexes, redirects to canonical ones (auto)", async () => {
    expect(await (await s.fetch("/about")).text()).toBe("<h1>about</h1>");
    expect(await (await s.fetch("/blog/")).text()).toBe("<h1>blog</h1>");
    const cases: [string, string][] = [
      ["/about.html", "/about"],
      ["/about/", "/about"],
      ["/blog", "/blog/"],
      ["/blog/index.html", "/blog/"],
      ["/index.html", "/"],
      ["/blog?x=1", "/blog/?x=1"],
    ];
    for (const [from, to] of cases) {
      const res = await s.fetch(from);
      expect(res.status, from).toBe(307);
      expect(res.headers.get("Location"), from).toBe(to);
      expect(kvReads(res)).toBe(0);
    }
  });

  it("resolves percent-encoded names with spaces and non-ASCII characters", async () => {
    expect(await (await s.fetch("/blog/first%20post")).text()).toBe("<h1>first</h1>");
    expect(await (await s.fetch("/docs/caf%C3%A9/")).text()).toBe("<h1>café</h1>");
    const res = await s.fetch("/docs/caf%C3%A9");
    expect(res.headers.get("Location")).toBe("/docs/caf%C3%A9/");
  });

  it("answers 400, never 500, for paths that could escape the site", async () => {
    for (const p of ["/a%2Fb", "/%2e%2e/secret", "/a%00b", "/%E0%A4%A", "/a%5Cb", `/${"a".repeat(3000)}`]) {
      const res = await s.fetch(p);
      expect([400, 404], p).toContain(res.status);
      if (res.status === 400) expect(((await res.json()) as { error: string }).error).toBe("bad_path");
      else await res.arrayBuffer();
    }
    // The URL parser resolves plain dot segments before the Worker sees them.
    expect((await s.fetch("/blog/../../about")).status).toBe(200);
  });
});

describe("not found", () => {
  it("serves the nearest 404.html with status 404 and no-store", async () => {
    const res = await s.fetch("/docs/missing");
    expect(res.status).toBe(404);
    expect(await res.text()).toBe("<h1>docs 404</h1>");
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const top = await s.fetch("/nope/deeper");
    expect(top.status).toBe(404);
    expect(await top.text()).toBe("<h1>404</h1>");
  });

  it("falls back to a plain 404 without any 404.html", async () => {
    const kv = freshKv();
    await publish(kv, { "/index.html": "x" });
    const res = await server(kv).fetch("/missing");
    expect(res.status).toBe(404);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
  });

  it("SPA mode serves the fallback with 200 to navigations, but still 404s a missing file with an extension", async () => {
    const kv = freshKv();
    await publish(kv, { "/index.html": "<app>", "/main.js": "js", "/404.html": "nf" }, { spa: "/index.html" });
    const app = server(kv);
    const page = { headers: { "Sec-Fetch-Mode": "navigate", Accept: "text/html,*/*;q=0.8" } };
    const deep = await app.fetch("/users/42/settings", page);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toBe("<app>");
    // Without Sec-Fetch-Mode (older browsers, crawlers), an Accept naming text/html is a navigation.
    expect((await app.fetch("/users/42", { headers: { Accept: "text/html" } })).status).toBe(200);
    const asset = await app.fetch("/missing.js", page);
    expect(asset.status).toBe(404);
    expect(await asset.text()).toBe("nf");
  });

  it("SPA mode gives scripts and API clients a 404 for a missing path, never the app shell", async () => {
    const kv = freshKv();
    await publish(kv, { "/index.html": "<app>", "/404.html": "nf" }, { spa: "/index.html" });
    const app = server(kv);
    const kinds: Record<string, string>[] = [
      { "Sec-Fetch-Mode": "cors", Accept: "*/*" }, // fetch() from a script
      { "Sec-Fetch-Mode": "no-cors", Accept: "text/html" }, // a mode that is not a navigation wins over Accept
      { Accept: "application/json" }, // an API client
      {}, // curl
    ];
    for (const headers of kinds) {
      const res = await app.fetch("/api/users", { headers });
      expect(res.status, JSON.stringify(headers)).toBe(404);
      expect(await res.text()).toBe("nf");
    }
  });

  it("says so when nothing was deployed", async () => {
    const res = await server(freshKv()).fetch("/");
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toBe("no_site");
  });
});

describe("caching headers", () => {
  it("fingerprinted names are immutable, others revalidate", async () => {
    expect((await s.fetch("/assets/app.3f2a1c9e.js")).headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
    expect((await s.fetch("/css/site.css")).headers.get("Cache-Control")).toBe("public, max-age=0, must-revalidate");
    expect((await s.fetch("/")).headers.get("Cache-Control")).toBe("public, max-age=0, must-revalidate");
  });
});

describe("precompression", () => {
  it("serves gzip when accepted, with Content-Encoding, Vary and its own ETag", async () => {
    const plain = await s.fetch("/css/site.css");
    const res = await s.fetch("/css/site.css", { headers: { "Accept-Encoding": "gzip, deflate" } });
    expect(res.headers.get("Content-Encoding")).toBe("gzip");
    expect(res.headers.get("Vary")).toBe("Accept-Encoding");
    expect(res.headers.get("ETag")).toBe(plain.headers.get("ETag")!.replace(/"$/, '-gz"'));
    const body = await res.arrayBuffer();
    expect(Number(res.headers.get("Content-Length"))).toBe(body.byteLength);
    expect(body.byteLength).toBeLessThan(Number(plain.headers.get("Content-Length")));
    expect(dec.decode(await gunzip(body))).toBe(SAMPLE["/css/site.css"]);
  });

  it("honours q-values and serves identity for ranges", async () => {
    const refused = await s.fetch("/css/site.css", { headers: { "Accept-Encoding": "gzip;q=0, identity" } });
    expect(refused.headers.get("Content-Encoding")).toBeNull();
    expect(refused.headers.get("Vary")).toBe("Accept-Encoding");
    const range = await s.fetch("/css/site.css", { headers: { "Accept-Encoding": "gzip", Range: "bytes=0-3" } });
    expect(range.status).toBe(206);
    expect(range.headers.get("Content-Encoding")).toBeNull();
    expect(await range.text()).toBe("body");
  });

  it("stores no variant for files that do not shrink", async () => {
    const res = await s.fetch("/img/data.bin", { headers: { "Accept-Encoding": "gzip" } });
    expect(res.headers.get("Content-Encoding")).toBeNull();
    expect(res.headers.get("Vary")).toBeNull();
  });
});

describe("range", () => {
  const data = SAMPLE["/img/data.bin"] as Uint8Array;
  it("serves a single range with 206 and Content-Range", async () => {
    const res = await s.fetch("/img/data.bin", { headers: { Range: "bytes=100-199" } });
    expect(res.status).toBe(206);
    expect(res.headers.get("Content-Range")).toBe("bytes 100-199/5000");
    expect(res.headers.get("Content-Length")).toBe("100");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(data.slice(100, 200));
    const suffix = await s.fetch("/img/data.bin", { headers: { Range: "bytes=-10" } });
    expect(suffix.headers.get("Content-Range")).toBe("bytes 4990-4999/5000");
    expect(new Uint8Array(await suffix.arrayBuffer())).toEqual(data.slice(4990));
    const open = await s.fetch("/img/data.bin", { headers: { Range: "bytes=4000-" } });
    expect(new Uint8Array(await open.arrayBuffer())).toEqual(data.slice(4000));
  });

  it("answers an unsatisfiable range with 416", async () => {
    const res = await s.fetch("/img/data.bin", { headers: { Range: "bytes=5000-6000" } });
    expect(res.status).toBe(416);
    expect(res.headers.get("Content-Range")).toBe("bytes */5000");
  });

  it("ignores the range when If-Range does not match, honours it when it does", async () => {
    const etag = (await s.fetch("/img/data.bin", { method: "HEAD" })).headers.get("ETag")!;
    const stale = await s.fetch("/img/data.bin", { headers: { Range: "bytes=0-9", "If-Range": '"old"' } });
    expect(stale.status).toBe(200);
    expect((await stale.arrayBuffer()).byteLength).toBe(5000);
    const fresh = await s.fetch("/img/data.bin", { headers: { Range: "bytes=0-9", "If-Range": etag } });
    expect(fresh.status).toBe(206);
    await fresh.arrayBuffer();
  });

  it("ignores malformed and multiple ranges (whole body, 200)", async () => {
    for (const r of ["bytes=a-b", "bytes=0-1,5-6", "items=0-1"]) {
      const res = await s.fetch("/img/data.bin", { headers: { Range: r } });
      expect(res.status, r).toBe(200);
      await res.arrayBuffer();
    }
  });
});

describe("chunked blobs", () => {
  it("streams a file split into chunks, and ranges across chunk boundaries", async () => {
    const kv = freshKv();
    const big = new Uint8Array(10_500).map((_, i) => (i * 13) % 251);
    await publish(kv, { "/big.bin": big }, { chunk: 1000 });
    const app = server(kv);
    const whole = await app.fetch("/big.bin");
    expect(whole.headers.get("Content-Length")).toBe("10500");
    expect(new Uint8Array(await whole.arrayBuffer())).toEqual(big);
    const across = await app.fetch("/big.bin", { headers: { Range: "bytes=950-3050" } });
    expect(across.status).toBe(206);
    expect(new Uint8Array(await across.arrayBuffer())).toEqual(big.slice(950, 3051));
    await app.settle();
    const tail = await app.fetch("/big.bin", { headers: { Range: "bytes=10400-" } });
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(big.slice(10400));
    expect(kvReads(tail)).toBe(1);
  });
});
