/**
 * edgekv-site: serves a whole static site from SITE_KV. Publishing and rollback
 * are KV writes (`edgekv site deploy|rollback`), never a Worker redeploy.
 * See docs/site.md.
 */
import { perIsolate } from "../../shared/http/isolate.ts";
import { pointerTtlMs, previewConfig } from "./config.ts";
import type { SiteEnv } from "./env.ts";
import { HotBodies } from "./hot.ts";
import { SiteReader } from "./store.ts";
import { handle } from "./handler.ts";

const WORKERS_DEV = /^https?:\/\/[^/]*\.workers\.dev(?::\d+)?\//;

// One reader and one body cache per isolate (shared/http/isolate.ts), so the pointer, indexes,
// shards and small bodies stay cached across requests.
const depsFor = perIsolate((env: SiteEnv) => ({
  reader: new SiteReader(env.SITE_KV, { pointerTtlMs: pointerTtlMs(env.POINTER_TTL_MS) }),
  hot: new HotBodies(),
  preview: previewConfig(env),
}));

export default {
  fetch(request, env, ctx): Promise<Response> {
    const { reader, hot, preview } = depsFor(env);
    // The Cache API has no effect on workers.dev: skip its cost there (a regex, not a second URL parse).
    const cache = WORKERS_DEV.test(request.url) ? undefined : caches.default;
    return handle(request, { reader, hot, preview, waitUntil: (p) => ctx.waitUntil(p), cache });
  },
} satisfies ExportedHandler<SiteEnv>;
