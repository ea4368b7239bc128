/**
 * The request path of the site Worker: method and path checks, redirects, file
 * resolution, conditional and range requests, encodings, headers. Plain
 * functions over `(request, deps)`; index.ts is a thin shell.
 */
import { HttpError, toErrorResponse } from "../../shared/http/errors.ts";
import { normalizePath } from "../../shared/http/path.ts";
import { appendVary } from "../../shared/http/vary.ts";
import { KvOps } from "../../shared/kv/ops.ts";
import { openBody } from "./body.ts";
import type { HotBodies } from "./hot.ts";
import { previewAsk } from "./preview.ts";
import { VersionNotReady, type SiteReader } from "./store.ts";
import { FINGERPRINT_RE, SITE_PATH_POLICY, type Encoding, type Entry, type SiteIndex } from "./model.ts";
import { etagMatches, ifRangeAllows, parseRange, pickEncoding } from "./negotiate.ts";
import { encodePath, findFile, resolvePath } from "./resolve.ts";
import { applyHeaderRules, findRedirect } from "./rules.ts";

export const CACHE_IMMUTABLE = "public, max-age=31536000, immutable";
export const CACHE_REVALIDATE = "public, max-age=0, must-revalidate";
export const CACHE_NONE = "no-store";
/** Sent on every response; `_headers` can override or unset them (`! Referrer-Policy`). */
export const SECURITY_HEADERS: Record<string, string> = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "strict-origin-when-cross-origin",
};
/** Canonical-URL redirects are temporary, as Workers Static Assets does. */
export const CANONICAL_REDIRECT_STATUS = 307;
/**
 * Largest body kept in the Cache API. Filling the cache tees the stream, and a
 * tee buffers whatever the slower side has not read yet.
 */
export const EDGE_CACHE_MAX_BYTES = 1024 * 1024;

export interface Deps {
  reader: SiteReader;
  waitUntil?: (p: Promise<unknown>) => void;
  /**
   * The colo cache (`caches.default`), where it has an effect (a custom domain or
   * route; not workers.dev). Bodies are cached by content hash, so every version
   * and path sharing a file shares one entry, and a hit costs no KV read.
   */
  cache?: Cache;
  /**
   * Small bodies held in the isolate (hot.ts), by content hash: a hot file then
   * costs no KV read and no Cache API lookup. Bodies it would not hold use `cache`.
   */
  hot?: HotBodies;
  /** Previews (preview.ts): PREVIEW_HOST, and PREVIEW_SECRET when it is strong enough to sign links. */
  preview?: { host: string | undefined; secret: string | undefined };
}

/** KV accounting plus where the body came from: the Cache API (hit/miss) or the isolate. */
type SiteOps = KvOps & { edgeCache?: "hit" | "miss" | "isolate" };

interface Ctx {
  request: Request;
  url: URL;
  deps: Deps;
  ops: SiteOps;
  waitUntil: (p: Promise<unknown>) => void;
  index: SiteIndex;
}

/**
 * Serves one request from the live site version in KV.
 * @example export default { fetch: (req, env, ctx) => handle(req, { reader, waitUntil: (p) => ctx.waitUntil(p) }) };
 */
export async function handle(request: Request, deps: Deps): Promise<Response> {
  const ops: SiteOps = new KvOps();
  let version: string | undefined;
  let preview: string | undefined;
  let res: Response;
  try {
    if (request.method !== "GET" && request.method !== "HEAD") {
      throw new HttpError(405, "method_not_allowed", "use GET or HEAD", { Allow: "GET, HEAD" });
    }
    const url = new URL(request.url);
    const norm = normalizePath(url.pathname, SITE_PATH_POLICY);
    if (!norm.ok) throw new HttpError(400, "bad_path", norm.reason);
    const waitUntil = deps.waitUntil ?? (() => undefined);
    const ask = deps.preview ? await previewAsk(request, url, deps.preview.host, deps.preview.secret, Date.now()) : undefined;
    // The link's swap sets the preview cookie: as private as the preview itself.
    if (ask?.kind === "redirect") return finish(ask.response, ops, deps, undefined, true);
    preview = ask?.kind === "version" ? ask.version : undefined;
    const pointer = await deps.reader.pointer(ops, waitUntil);
    // The live version first (or the one previewed, then live); one not yet visible here falls back to the next.
    const versions = [...(preview ? [preview] : []), ...(pointer ? [pointer.live, ...pointer.previous] : [])];
    if (!versions.length) throw new HttpError(404, "no_site", "no site has been deployed yet");
    for (let i = 0; !res!; i++) {
      const v = versions[i];
      if (v === undefined) throw new HttpError(503, "version_unavailable", "the site is being deployed, retry shortly", { "Retry-After": "5" });
      try {
        const index = await deps.reader.index(v, ops);
        const ctx: Ctx = { request, url, deps, ops, waitUntil, index };
        res = await route(ctx, norm.path, versions.slice(i + 1));
        version ??= v;
      } catch (err) {
        if (!(err instanceof VersionNotReady)) throw err;
        if (v !== preview) console.warn(JSON.stringify({ level: "warn", code: "version_not_ready", version: v, message: err.message }));
      }
    }
  } catch (err) {
    res = toErrorResponse(err);
  }
  return finish(res, ops, deps, version, !!preview);
}

/**
 * Every header a cache takes orders from: Cache-Control, RFC 9213's CDN-Cache-Control and its
 * vendor forms (Cloudflare-CDN-Cache-Control...), Surrogate-Control (Fastly, Varnish, Squid),
 * Akamai's Edge-Control, nginx's X-Accel-Expires (which outranks Cache-Control there), Expires, Pragma.
 */
const CACHE_DIRECTIVES = /(cache|surrogate|edge)-control$|expires$|^pragma$/;

/**
 * Every response leaves here. With preview links on, what a URL answers depends on the preview
 * cookie, so every response says `Vary: Cookie`; a response chosen by a preview (or setting its
 * cookie) is `private, no-store` whatever `_headers` said, so no cache in front can keep it.
 */
function finish(res: Response, ops: SiteOps, deps: Deps, version: string | undefined, preview: boolean): Response {
  const h = res.headers;
  h.set("Server-Timing", ops.toServerTiming());
  if (ops.edgeCache) h.append("Server-Timing", `cache;desc="${ops.edgeCache}"`);
  if (version && !h.has("x-edgekv-site-version")) h.set("x-edgekv-site-version", version);
  if (deps.preview?.secret) appendVary(h, ["Cookie"]);
  if (preview) {
    // Never indexed, never kept by a shared cache.
    for (const k of [...h.keys()]) if (CACHE_DIRECTIVES.test(k)) h.delete(k);
    h.set("Cache-Control", "private, no-store");
    h.set("X-Robots-Tag", "noindex");
  }
  return res;
}

/**
 * Paths resolved to a file, kept on the version's index (one per isolate, in the reader's cache):
 * a version never changes, so a held path skips the `_redirects` rules, the manifest lookups and
 * their promise hops. The first MAX_RESOLVED_PATHS paths of a version are held; redirects and 404s are not.
 */
type HeldIndex = SiteIndex & { held?: Map<string, Entry> };
export const MAX_RESOLVED_PATHS = 2048;

async function route(ctx: Ctx, path: string, older: string[]): Promise<Response> {
  const { index, url, deps, ops } = ctx;
  const held = ((index as HeldIndex).held ??= new Map());
  const hit = held.get(path);
  if (hit) return serveFile(ctx, path, hit, 200);
  const redirect = findRedirect(index, path);
  if (redirect) {
    if (redirect.status !== 200) {
      return withHeaders(ctx, path, new Response(null, { status: redirect.status, headers: { Location: redirect.to } }));
    }
    // A 200 rule rewrites to another file of the site; the URL stays.
    const target = normalizePath(new URL(redirect.to, url).pathname, SITE_PATH_POLICY);
    const file = target.ok ? await findFile(target.path, exists(ctx, index)) : undefined;
    return file ? serveFile(ctx, path, (await deps.reader.entry(index, file, ops))!, 200) : notFound(ctx, path);
  }
  const r = await resolvePath(path, index.slash, exists(ctx, index));
  if (r.kind === "redirect") {
    const headers = { Location: encodePath(r.location) + url.search };
    return withHeaders(ctx, path, new Response(null, { status: CANONICAL_REDIRECT_STATUS, headers }));
  }
  if (r.kind === "file") {
    const entry = (await deps.reader.entry(index, r.file, ops))!;
    if (held.size < MAX_RESOLVED_PATHS) held.set(path, entry);
    return serveFile(ctx, path, entry, 200);
  }
  // Version skew: a page from a previous deploy may still ask for its fingerprinted assets.
  if (FINGERPRINT_RE.test(path)) {
    for (const v of older) {
      try {
        const old = await deps.reader.index(v, ops);
        const e = await deps.reader.entry(old, path, ops);
        if (e?.i) {
          const res = await serveFile({ ...ctx, index: old }, path, e, 200);
          res.headers.set("x-edgekv-site-version", v);
          return res;
        }
      } catch (err) {
        if (!(err instanceof VersionNotReady)) throw err;
      }
    }
  }
  return notFound(ctx, path);
}

/**
 * A browser loading a page, not a script or an API client: `Sec-Fetch-Mode:
 * navigate`, or (without Sec-Fetch-Mode) an `Accept` naming text/html. Only
 * these get the SPA fallback, so a missing `/api/users` or `/app` fetched by a
 * script is a 404, never index.html with a 200.
 */
export function isNavigation(h: Headers): boolean {
  const mode = h.get("Sec-Fetch-Mode");
  if (mode !== null) return mode === "navigate";
  return (h.get("Accept") ?? "").includes("text/html");
}

function exists(ctx: Ctx, index: SiteIndex): (p: string) => Promise<boolean> {
  return async (p) => (await ctx.deps.reader.entry(index, p, ctx.ops)) !== undefined;
}

async function notFound(ctx: Ctx, path: string): Promise<Response> {
  const { index, deps, ops } = ctx;
  const last = path.slice(path.lastIndexOf("/") + 1);
  if (index.spa && !last.includes(".") && isNavigation(ctx.request.headers)) {
    const spa = await deps.reader.entry(index, index.spa, ops);
    if (spa) return serveFile(ctx, path, spa, 200);
  }
  const dir = index.notFound.find((d) => path.startsWith(d));
  const page = dir === undefined ? undefined : await deps.reader.entry(index, `${dir}404.html`, ops);
  if (page) return serveFile(ctx, path, page, 404);
  return withHeaders(
    ctx,
    path,
    new Response("not found\n", { status: 404, headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": CACHE_NONE } }),
  );
}

const SECURITY_ENTRIES = Object.entries(SECURITY_HEADERS);

/** The security headers, then the site's `_headers` rules for `path`, on `headers` (before any Response is built). */
function decorate(ctx: Ctx, path: string, headers: Headers): Headers {
  // Always fresh headers here (no caller sets these): set, no has() per header.
  for (const [k, v] of SECURITY_ENTRIES) headers.set(k, v);
  applyHeaderRules(ctx.index.headers, path, headers);
  return headers;
}

function withHeaders(ctx: Ctx, path: string, res: Response): Response {
  decorate(ctx, path, res.headers);
  return res;
}

async function serveFile(ctx: Ctx, path: string, entry: Entry, status: 200 | 404): Promise<Response> {
  const { request } = ctx;
  const h = request.headers;
  const wantsRange = status === 200 && h.has("Range");
  const enc = wantsRange ? undefined : pickEncoding(h.get("Accept-Encoding"), entry.z);
  const size = enc ? entry.z![enc]! : entry.s;
  const etag = `"${entry.h}${enc ? `-${enc}` : ""}"`;
  const cacheControl = status === 404 ? CACHE_NONE : entry.i ? CACHE_IMMUTABLE : CACHE_REVALIDATE;
  const inm = h.get("If-None-Match");
  if (status === 200 && inm !== null && etagMatches(inm, [`"${entry.h}"`, `"${entry.h}-br"`, `"${entry.h}-gz"`])) {
    // RFC 9110 15.4.5: a 304 repeats the validator and the caching headers of the 200, nothing
    // more: every header is CPU per request (micro A/B: a 304 with 9 headers 222 µs, 5 206 µs, 1 193 µs).
    const headers = new Headers({ ETag: etag, "Cache-Control": cacheControl });
    if (entry.z) headers.set("Vary", "Accept-Encoding");
    // A `_headers` rule may set Cache-Control (or Expires) for this path: it applies here too.
    if (ctx.index.headers.length) applyHeaderRules(ctx.index.headers, path, headers);
    return new Response(null, { status: 304, headers });
  }
  const headers = new Headers({ "Content-Type": entry.t, "Cache-Control": cacheControl });
  if (status === 200) {
    headers.set("ETag", etag);
    headers.set("Accept-Ranges", "bytes");
  }
  if (entry.z) headers.set("Vary", "Accept-Encoding");
  if (enc) headers.set("Content-Encoding", enc === "gz" ? "gzip" : "br");
  // One Headers, one Response at the end: no intermediate Response to copy headers out of.
  const out = decorate(ctx, path, headers);

  let start = 0;
  let end = size - 1;
  let code: number = status;
  if (wantsRange && ifRangeAllows(h.get("If-Range"), etag)) {
    const range = parseRange(h.get("Range"), size);
    if (range === "unsatisfiable") {
      out.set("Content-Range", `bytes */${size}`);
      out.set("Cache-Control", CACHE_NONE);
      return new Response(null, { status: 416, headers: out });
    }
    if (range) {
      ({ start, end } = range);
      code = 206;
      out.set("Content-Range", `bytes ${start}-${end}/${size}`);
    }
  }
  out.set("Content-Length", String(end - start + 1));
  if (request.method === "HEAD" || size === 0) return new Response(null, { status: code, headers: out });
  const body = await bodyOf(ctx, entry, enc ?? "id", size, start, end, code);
  // A precompressed variant is already encoded: the runtime must not encode it again. Identity bytes
  // go out plain, and Cloudflare compresses them for the visitor by its Accept-Encoding (docs/site.md).
  return new Response(body, enc ? { status: code, headers: out, encodeBody: "manual" } : { status: code, headers: out });
}

/**
 * The bytes start..end of a blob: from the colo cache when it has the whole blob,
 * else from KV (filling the cache for whole bodies up to EDGE_CACHE_MAX_BYTES).
 */
async function bodyOf(ctx: Ctx, entry: Entry, enc: Encoding | "id", size: number, start: number, end: number, code: number): Promise<BodyInit> {
  const hot = ctx.deps.hot;
  if (hot?.fits(size)) {
    const bytes = await hotBody(ctx, hot, entry, enc, size);
    return start === 0 && end === size - 1 ? bytes : bytes.subarray(start, end + 1);
  }
  const cache = code === 206 || size > EDGE_CACHE_MAX_BYTES ? undefined : ctx.deps.cache;
  // Keyed by content, under this site's origin (Cache API keys are per zone).
  const key = cache && new Request(`${ctx.url.origin}/__edgekv/blob/${entry.h}/${enc}`);
  const hit = key && (await cache.match(key).catch(() => undefined));
  if (hit?.body) {
    ctx.ops.edgeCache = "hit";
    return hit.body;
  }
  const body = await openBody(ctx.deps.reader, { hash: entry.h, enc, size, chunk: ctx.index.chunk, start, end }, ctx.ops, ctx.waitUntil);
  if (!key) return body;
  ctx.ops.edgeCache = "miss";
  const [client, copy] = body.tee();
  const stored = new Response(copy, { headers: { "Cache-Control": CACHE_IMMUTABLE, "Content-Length": String(size) } });
  ctx.waitUntil(cache.put(key, stored).catch(() => undefined));
  return client;
}

/** The whole stored variant from the isolate, else read once from KV and kept (its hash names it forever). */
async function hotBody(ctx: Ctx, hot: HotBodies, entry: Entry, enc: Encoding | "id", size: number): Promise<Uint8Array> {
  const key = `${entry.h}:${enc}`;
  const held = hot.get(key);
  if (held) {
    ctx.ops.edgeCache = "isolate";
    return held;
  }
  const plan = { hash: entry.h, enc, size, chunk: ctx.index.chunk, start: 0, end: size - 1 };
  const bytes = new Uint8Array(await new Response(await openBody(ctx.deps.reader, plan, ctx.ops, ctx.waitUntil)).arrayBuffer());
  // A short read is never kept (nor served: the Content-Length would lie).
  if (bytes.byteLength !== size) throw new HttpError(503, "blob_incomplete", "this file is temporarily unavailable", { "Retry-After": "5" });
  hot.set(key, bytes);
  return bytes;
}
