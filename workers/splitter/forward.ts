import { HttpError } from "../../shared/http/errors.ts";
import { originTarget, parseOriginBase, type OriginBase } from "../../shared/http/target.ts";
import { otherColor, type Color, type RolloutConfig } from "./model.ts";

/** Hop-by-hop headers (RFC 9110 7.6.1): they describe one connection, not the request. */
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];
/** Methods retried on the other colour when failover is on (and the request has no body to replay). */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);

export type OriginFetch = (request: Request) => Promise<Response>;

// Parsed once per config document (a new config brings a new `origins` object).
const bases = new WeakMap<RolloutConfig["origins"], Record<Color, OriginBase>>();

/** The configured origins of `config`, parsed. */
export function originBases(config: RolloutConfig): Record<Color, OriginBase> {
  let b = bases.get(config.origins);
  if (!b) bases.set(config.origins, (b = { blue: parseOriginBase(config.origins.blue), green: parseOriginBase(config.origins.green) }));
  return b;
}

/** Where a request goes: the incoming URL (for X-Forwarded-*) and the normalised path and query to forward. */
export interface Target {
  incoming: URL;
  /** The canonical percent-encoded path the decision was made on (shared/http/path.ts `encoded`). */
  path: string;
  /** The query as received ("" or "?..."). */
  search: string;
}

/**
 * The request to send to `base`: same method, headers, streamed body; the
 * normalised path and the query on the configured origin (never a host the
 * request chose); Host from the origin; X-Forwarded-*; hop-by-hop headers
 * dropped (except a WebSocket upgrade); redirects returned, not followed.
 * @example originRequest(request, { incoming: url, path: "/x", search: "" }, parseOriginBase("https://green.example.com"), { signal })
 */
export function originRequest(request: Request, to: Target, base: OriginBase, options: { signal?: AbortSignal; cookie?: string } = {}): Request {
  const target = originTarget(base, to.path, to.search);
  const url = to.incoming;
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
 * arrive (the body then streams without a deadline). Never throws. The
 * client's error names the colour only; the origin URL and the fetch error
 * go to the logs (as the error's cause).
 * @example const a = await callOrigin(req, to, "green", parseOriginBase("https://green.example.com"), 10_000, fetch);
 */
export async function callOrigin(
  request: Request,
  to: Target,
  color: string,
  base: OriginBase,
  timeoutMs: number,
  fetchFn: OriginFetch,
  cookie?: string,
): Promise<Attempt> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const forwarded = originRequest(request, to, base, { signal: ctl.signal, ...(cookie ? { cookie } : {}) });
    return { ok: true, response: await fetchFn(forwarded) };
  } catch (err) {
    if (err instanceof HttpError) return { ok: false, error: err };
    const cause = new Error(`${color} origin ${base.origin}${base.prefix}: ${err instanceof Error ? err.message : String(err)}`);
    if (ctl.signal.aborted) {
      return { ok: false, error: new HttpError(504, "origin_timeout", `the ${color} origin did not answer in time`, {}, { cause }) };
    }
    return { ok: false, error: new HttpError(502, "origin_unreachable", `the ${color} origin could not be reached`, {}, { cause }) };
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
export async function forward(request: Request, to: Target, config: RolloutConfig, color: Color, fetchFn: OriginFetch, cookie?: string): Promise<Forwarded> {
  const bases = originBases(config);
  const first = await callOrigin(request, to, color, bases[color], config.timeoutMs, fetchFn, cookie);
  const failed = !first.ok || first.response.status >= 500;
  if (!failed || !canFailOver(config, request)) return { attempt: first, color, failedOver: false };
  if (first.ok) await first.response.body?.cancel();
  const other = otherColor(color);
  return { attempt: await callOrigin(request, to, other, bases[other], config.timeoutMs, fetchFn, cookie), color: other, failedOver: true };
}
