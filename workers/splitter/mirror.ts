import { originBases, originRequest, type OriginFetch, type Target } from "./forward.ts";
import { otherColor, type Color, type RolloutConfig } from "./model.ts";

/** What a handler needs to run work after the response (ExecutionContext's waitUntil). */
export interface Background {
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * Copies `config.mirror.percent` of GET/HEAD requests to the colour that is
 * not serving this one, marked `x-edgekv-mirror: 1`, in `waitUntil`: the
 * user's response never waits for it or sees its outcome. Never a body
 * (the copy is built from the method and headers only); its response body
 * is discarded unread.
 * @example mirror(request, to, cfg, "blue", fetch, ctx, cookie)
 */
export function mirror(request: Request, to: Target, config: RolloutConfig, served: Color, fetchFn: OriginFetch, bg: Background, cookie?: string): void {
  const share = config.mirror?.percent ?? 0;
  if (!(share > 0) || (request.method !== "GET" && request.method !== "HEAD") || request.headers.has("upgrade")) return;
  if (Math.random() * 100 >= share) return;
  const headers = new Headers(request.headers);
  headers.delete("content-length");
  headers.set("x-edgekv-mirror", "1");
  const ctl = new AbortController();
  const color = otherColor(served);
  const copy = originRequest(new Request(request.url, { method: request.method, headers }), to, originBases(config)[color], {
    signal: ctl.signal,
    ...(cookie ? { cookie } : {}),
  });
  const timer = setTimeout(() => ctl.abort(), config.timeoutMs);
  bg.waitUntil(
    fetchFn(copy)
      .then((r) => r.body?.cancel())
      .catch(() => {})
      .finally(() => clearTimeout(timer)),
  );
}
