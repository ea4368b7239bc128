// The floors of issue 26: for each Worker, the least code that does the same job correctly,
// written as plainly as the issue reads. Each runs in its own workerd with the Worker's own
// wrangler environment (same KV namespace, same seeded state) and is sent the same request.
// Adding one: a source here, an entry in FLOORS, and `floor: "<name>"` on the case (bench/run.ts).
import type { WorkerEnvName } from "../../scripts/runtime.ts";

/** A floor Worker: its module source and the wrangler environment whose bindings it reads. */
export interface FloorSpec {
  env: WorkerEnvName;
  source: string;
  /** What the floor does, for the results table. */
  does: string;
  /** A var that receives the bench origin (`<origin>/blue`, as the gate's ORIGIN_URL), when the floor forwards. */
  originVar?: string;
  /** Bindings of the environment to leave out (as the bench drops the gate's FAILED_AUTH_LIMITER). */
  drop?: string[];
}

/**
 * Site (304 and hot 200): a path lookup in memory, If-None-Match compared, then a 304 with ETag
 * and Cache-Control, or a 200 with body, type, ETag and Cache-Control. The file is read from the
 * same KV state once per isolate (pointer, index, manifest shard, blob), then held.
 */
function siteFloor(extra: { ok: string; notModified: string }): string {
  return `const files = new Map();
const shardOf = (p, n) => { let h = 0x811c9dc5; for (let i = 0; i < p.length; i++) h = Math.imul(h ^ p.charCodeAt(i), 0x01000193); return (h >>> 0) % n; };
async function load(kv, path) {
  const file = path.endsWith("/") ? path + "index.html" : path;
  const live = await kv.get("site:live", "json");
  const index = await kv.get("site:v:" + live.live, "json");
  const shard = await kv.get("site:m:" + index.shards[shardOf(file, index.shards.length)], "json");
  const e = shard[file];
  const body = new Uint8Array(await kv.get("site:b:" + e.h + ":id", "arrayBuffer"));
  const cache = e.i ? "public, max-age=31536000, immutable" : "public, max-age=0, must-revalidate";
  return { etag: '"' + e.h + '"', type: e.t, cache, body, version: live.live };
}
function answer(request, f) {
  if (request.headers.get("if-none-match") === f.etag) return new Response(null, { status: 304, headers: { etag: f.etag, "cache-control": f.cache${extra.notModified} } });
  return new Response(f.body, { headers: { "content-type": f.type, etag: f.etag, "cache-control": f.cache${extra.ok} } });
}
export default {
  fetch(request, env) {
    const path = new URL(request.url).pathname;
    const f = files.get(path);
    if (f) return answer(request, f);
    return load(env.SITE_KV, path).then((g) => (files.set(path, g), answer(request, g)));
  },
};`;
}

/**
 * Site (304 and hot 200): a path lookup in memory, If-None-Match compared, then a 304 with ETag
 * and Cache-Control, or a 200 with body, type, ETag and Cache-Control. The file is read from the
 * same KV state once per isolate (pointer, index, manifest shard, blob), then held.
 */
const SITE_FLOOR = siteFloor({ ok: "", notModified: "" });

/** Kept in the floor-with-headers: a Server-Timing of the site's length (values are not computed). */
const TIMING = `, "server-timing": 'kv;desc="reads=0 writes=0 deletes=0 lists=0 hits=0 stale=0";dur=0', "x-edgekv-site-version": f.version`;

/**
 * The site floor sending the headers the site sends because an issue asked for them (Vary,
 * Accept-Ranges, the two security headers, Server-Timing, the version): the site against it is
 * the code; it against the plain floor is what those headers cost.
 */
const SITE_FLOOR_HEADERS = siteFloor({
  notModified: `, vary: "Accept-Encoding"${TIMING}`,
  ok: `, "accept-ranges": "bytes", vary: "Accept-Encoding", "x-content-type-options": "nosniff", "referrer-policy": "strict-origin-when-cross-origin"${TIMING.replace("server-timing\": '", "server-timing\": '").replace("dur=0'", 'dur=0, cache;desc="isolate"\'')}`,
});

/**
 * Splitter (sticky visitor): isolate-held config, read the sticky cookie, hash to a bucket,
 * forward, set the colour header and a new visitor's cookie.
 */
const SPLITTER_FLOOR = `let config;
const hash = (s) => { let h = 0x811c9dc5; for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193); return h >>> 0; };
export default {
  async fetch(request, env) {
    config ??= await env.ROLLOUT_KV.get("rollout/config", "json");
    const m = /(?:^|;\\s*)edgekv_id=([A-Za-z0-9_-]+)/.exec(request.headers.get("cookie") ?? "");
    const id = m ? m[1] : crypto.randomUUID();
    const other = config.live === "blue" ? "green" : "blue";
    const color = hash((config.salt ?? "edgekv") + ":" + id) % 10000 < config.percent * 100 ? other : config.live;
    const u = new URL(request.url);
    const res = await fetch(config.origins[color] + u.pathname + u.search, request);
    const out = new Response(res.body, res);
    out.headers.set("x-edgekv-color", color);
    if (!m) out.headers.append("set-cookie", "edgekv_id=" + id + "; Path=/; Max-Age=2592000; HttpOnly; Secure; SameSite=Lax");
    return out;
  },
};`;

/** Every floor by name. A case names its floor with `floor: "<name>"`; the floor gets the case's own request. */
export const FLOORS: Record<string, FloorSpec> = {
  "site-floor": { env: "site", source: SITE_FLOOR, does: "path lookup in memory, If-None-Match compared, 304/200 with ETag, Cache-Control (and type, body)" },
  "site-floor-headers": {
    env: "site",
    source: SITE_FLOOR_HEADERS,
    does: "the site floor, sending the headers issues asked the site for (Vary, Accept-Ranges, nosniff, Referrer-Policy, Server-Timing, version)",
  },
  "splitter-floor": {
    env: "splitter",
    source: SPLITTER_FLOOR,
    does: "isolate-held config, sticky cookie, hash to a bucket, forward, colour header, new visitor's cookie",
  },
};
