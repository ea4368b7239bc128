/** Helpers for the site Worker tests: publish in-memory sites with the CLI's own publish code. */
import { env } from "cloudflare:workers";
import type { KvBinding } from "../../shared/kv/index.ts";
import { publishSite, type PublishOptions } from "../../cli/site/publish.ts";
import { parseHeaders, parseRedirects } from "../../cli/site/rules.ts";
import { SiteReader } from "../../workers/site/store.ts";
import { handle } from "../../workers/site/handler.ts";

const enc = new TextEncoder();

/** The real SITE_KV with every key under `ns`, so tests never see each other's sites. */
export function namespaced(kv: KvBinding, ns: string): KvBinding {
  const k = (key: string | string[]) => (Array.isArray(key) ? key.map((x) => ns + x) : ns + key);
  return {
    get: ((key: string | string[], o: never) => {
      const r = kv.get(k(key) as never, o) as Promise<unknown>;
      if (!Array.isArray(key)) return r;
      return r.then((m) => new Map([...(m as Map<string, unknown>)].map(([a, b]) => [a.slice(ns.length), b])));
    }) as KvBinding["get"],
    getWithMetadata: ((key: string, o: never) => kv.getWithMetadata(k(key) as never, o)) as KvBinding["getWithMetadata"],
    put: (key, value, o) => kv.put(ns + key, value, o),
    delete: (key) => kv.delete(ns + key),
    list: async (o = {}) => {
      const r = await kv.list({ ...o, prefix: ns + (o.prefix ?? "") });
      return { ...r, keys: r.keys.map((x) => ({ ...x, name: x.name.slice(ns.length) })) };
    },
  };
}

let counter = 0;
/** A fresh namespace inside the real SITE_KV. */
export function freshKv(): KvBinding {
  return namespaced(env.SITE_KV as unknown as KvBinding, `t${Date.now()}-${counter++}/`);
}

export async function gzipBytes(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await new Response(new Blob([data]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer());
}

export async function gunzip(data: ArrayBuffer): Promise<Uint8Array> {
  return new Uint8Array(await new Response(new Blob([data]).stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer());
}

export type SiteFiles = Record<string, string | Uint8Array>;

/** Publishes `files` (path -> content) with gzip variants; `_redirects`/`_headers` keys are compiled. */
export async function publish(kv: KvBinding, files: SiteFiles, options: Partial<Omit<PublishOptions, "files">> = {}): Promise<string> {
  const sources = Object.entries(files)
    .filter(([p]) => p !== "/_redirects" && p !== "/_headers")
    .map(([path, c]) => ({ path, load: async () => (typeof c === "string" ? enc.encode(c) : c) }));
  const r = await publishSite(kv, {
    files: sources,
    redirects: typeof files["/_redirects"] === "string" ? parseRedirects(files["/_redirects"]) : [],
    headers: typeof files["/_headers"] === "string" ? parseHeaders(files["/_headers"]) : [],
    compress: async (d) => ({ gz: await gzipBytes(d) }),
    now: Date.now,
    ...options,
  });
  return r.version;
}

/** A site server over `kv` with an injectable clock; `fetch` collects waitUntil work. */
export function server(kv: KvBinding, now: () => number = Date.now) {
  const reader = new SiteReader(kv, { now });
  const pending: Promise<unknown>[] = [];
  return {
    reader,
    fetch: (path: string, init: RequestInit = {}) => handle(new Request(`http://site.test${path}`, init), { reader, waitUntil: (p) => pending.push(p) }),
    settle: () => Promise.all(pending.splice(0)),
  };
}

/** KV reads a response cost, from its Server-Timing header. */
export function kvReads(res: Response): number {
  const m = /reads=(\d+)/.exec(res.headers.get("Server-Timing") ?? "");
  if (!m) throw new Error("no Server-Timing");
  return Number(m[1]);
}

export const SAMPLE: SiteFiles = {
  "/index.html": "<h1>home</h1>",
  "/about.html": "<h1>about</h1>",
  "/blog/index.html": "<h1>blog</h1>",
  "/blog/first post.html": "<h1>first</h1>",
  "/docs/café/index.html": "<h1>café</h1>",
  "/docs/404.html": "<h1>docs 404</h1>",
  "/404.html": "<h1>404</h1>",
  "/css/site.css": `body{color:red}\n${"p{margin:0}\n".repeat(200)}`,
  "/assets/app.3f2a1c9e.js": `console.log(1);\n${"x();\n".repeat(100)}`,
  "/img/data.bin": new Uint8Array(Array.from({ length: 5000 }, (_, i) => (i * 7) % 256)),
  "/empty.txt": "",
};
