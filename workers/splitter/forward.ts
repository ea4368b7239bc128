import { HttpError } from "../../shared/http/errors.ts";
import { otherColor, type Color, type RolloutConfig } from "./config.ts";

/** Hop-by-hop headers (RFC 9110 7.6.1): they describe one connection, not the request. */
const HOP_BY_HOP = ["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"];
/** Methods retried on the other colour when failover is on (and the request has no body to replay). */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);

export type OriginFetch = (request: Request) => Promise<Response>;

/**
 * The request to send to `origin`: same method, headers, streamed body, path
 * and query; Host from the origin; X-Forwarded-*; hop-by-hop headers dropped
 * (except a WebSocket upgrade); redirects returned, not followed.
 * @example originRequest(request, "https://green.example.com", { signal })
 */
export function originRequest(request: Request, origin: string, options: { signal?: AbortSignal; cookie?: string } = {}): Request {
  const url = new URL(request.url);
  const base = new URL(origin);
  const target = new URL(base.pathname.replace(/\/$/, "") + url.pathname + url.search, base);
  const h = new Headers(request.headers);
  const ws = h.get("upgrade")?.toLowerCase() === "websocket";
  for (const name of (h.get("connection") ?? "").split(",")) if (name.trim()) h.delete(name.trim());
  for (const name of HOP_BY_HOP) h.delete(name);
  if (ws) {
    h.set("upgrade", "websocket");
    h.set("connection", "Upgrade");
  }
  h.delete("host");
  h.set("x-forwarded-host", url.host);
  h.set("x-forwarded-proto", url.protocol.slice(0, -1));
  const ip = request.headers.get("cf-connecting-ip");
  if (ip) {
    const prev = h.get("x-forwarded-for");
    h.set("x-forwarded-for", prev ? `${prev}, ${ip}` : ip);
  }
  if (options.cookie) {
    const prev = h.get("cookie");
    h.set("cookie", prev ? `${prev}; ${options.cookie}` : options.cookie);
  }
  return new Request(target, {
    method: request.method,
    headers: h,
    body: request.body,
    redirect: "manual",
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

export type Attempt = { ok: true; response: Response } | { ok: false; error: HttpError };

/**
 * One call to one origin, bounded by `timeoutMs` until the response headers
 * arrive (the body then streams without a deadline). Never throws.
 * @example const a = await callOrigin(req, "green", "https://green.example.com", 10_000, fetch);
 */
export async function callOrigin(request: Request, color: string, origin: string, timeoutMs: number, fetchFn: OriginFetch, cookie?: string): Promise<Attempt> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    return { ok: true, response: await fetchFn(originRequest(request, origin, { signal: ctl.signal, ...(cookie ? { cookie } : {}) })) };
  } catch (err) {
    if (ctl.signal.aborted) {
      return { ok: false, error: new HttpError(504, "origin_timeout", `the ${color} origin (${origin}) did not answer within ${timeoutMs} ms`) };
    }
    const why = err instanceof Error ? err.message : String(err);
    return { ok: false, error: new HttpError(502, "origin_unreachable", `the ${color} origin (${origin}) could not be reached: ${why}`) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * True when a failed or 5xx attempt may be retried once on the other colour.
 * @example canFailOver(cfg, request) // true for a GET with failover on
 */
export function canFailOver(config: RolloutConfig, request: Request): boolean {
  return config.failover && IDEMPOTENT.has(request.method) && request.body === null && request.headers.get("upgrade") === null;
}

export interface Forwarded {
  attempt: Attempt;
  /** The colour that produced the answer. */
  color: Color;
  failedOver: boolean;
}

/**
 * Sends the request to `color`; on a connection error, timeout or 5xx, and when
 * allowed, once more to the other colour.
 * @example const f = await forward(request, cfg, "green", fetch);
 */
export async function forward(request: Request, config: RolloutConfig, color: Color, fetchFn: OriginFetch, cookie?: string): Promise<Forwarded> {
  const first = await callOrigin(request, color, config.origins[color], config.timeoutMs, fetchFn, cookie);
  const failed = !first.ok || first.response.status >= 500;
  if (!failed || !canFailOver(config, request)) return { attempt: first, color, failedOver: false };
  if (first.ok) await first.response.body?.cancel();
  const other = otherColor(color);
  return { attempt: await callOrigin(request, other, config.origins[other], config.timeoutMs, fetchFn, cookie), color: other, failedOver: true };
}
