import { withoutCookie } from "../../shared/http/cookies.ts";
import { HttpError } from "../../shared/http/errors.ts";
import { forwardHeaders, forwardRequest } from "../../shared/http/forward.ts";
import { originTarget, parseOriginBase, type OriginBase } from "../../shared/http/target.ts";
import { otherColor, type Color, type RolloutConfig } from "./model.ts";

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

/** Where a request goes and what it carries besides the client's headers. */
export interface Target {
  /** The URL received (X-Forwarded-Proto/-Host). */
  incoming: URL;
  /** The canonical percent-encoded path the decision was made on (shared/http/path.ts `encoded`). */
  path: string;
  /** The query as received ("" or "?..."). */
  search: string;
  /** FORWARDED_HOST, when pinned. */
  forwardedHost?: string | undefined;
  /** The sticky cookie's name and the one id forwarded under it (undefined: none); absent: Cookie as received. */
  sticky?: { name: string; id: string | undefined };
}

/** `x-edgekv-mirror` (any case, `_` for `-`): set by the splitter on copies only, never passed from a client. */
export const MIRROR_HEADER = "x-edgekv-mirror";
const isMirrorMark = (canonical: string) => canonical === MIRROR_HEADER;

/**
 * The request to send to `base`: the shared forwarding policy
 * (shared/http/forward.ts: Host, hop-by-hop, X-Forwarded-*), no client-sent
 * x-edgekv-mirror, exactly one sticky cookie pair (the id used); the
 * normalised path and the query on the configured origin (never a host the
 * request chose); the body streamed; redirects returned, not followed.
 * @example originRequest(request, { incoming: url, path: "/x", search: "" }, parseOriginBase("https://green.example.com"), ctl.signal)
 */
export function originRequest(request: Request, to: Target, base: OriginBase, signal?: AbortSignal): Request {
  const h = forwardHeaders(request, to.incoming, { forwardedHost: to.forwardedHost, drop: isMirrorMark });
  const jar = to.sticky;
  if (jar) {
    // A garbled or planted duplicate never reaches the origin: it sees the one id the colour was chosen by
    // (withoutCookie removes every pair of that name, also after the ", " that joins two Cookie lines).
    const rest = withoutCookie(h.cookie ?? "", jar.name);
    const cookie = [rest, jar.id === undefined ? null : `${jar.name}=${jar.id}`].filter(Boolean).join("; ");
    if (cookie) h.cookie = cookie;
    else delete h.cookie;
  }
  return forwardRequest(request, originTarget(base, to.path, to.search), h, { signal });
}

export type Attempt = { ok: true; response: Response } | { ok: false; error: HttpError };

/**
 * One call to one origin, bounded by `timeoutMs` until the response headers
 * arrive (the body then streams without a deadline). Never throws. The
 * client's error names the colour only; the origin URL and the fetch error
 * go to the logs (as the error's cause).
 * @example const a = await callOrigin(req, to, "green", parseOriginBase("https://green.example.com"), 10_000, fetch);
 */
export async function callOrigin(request: Request, to: Target, color: string, base: OriginBase, timeoutMs: number, fetchFn: OriginFetch): Promise<Attempt> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const forwarded = originRequest(request, to, base, ctl.signal);
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
export async function forward(request: Request, to: Target, config: RolloutConfig, color: Color, fetchFn: OriginFetch): Promise<Forwarded> {
  const bases = originBases(config);
  const first = await callOrigin(request, to, color, bases[color], config.timeoutMs, fetchFn);
  const failed = !first.ok || first.response.status >= 500;
  if (!failed || !canFailOver(config, request)) return { attempt: first, color, failedOver: false };
  if (first.ok) await first.response.body?.cancel();
  const other = otherColor(color);
  return { attempt: await callOrigin(request, to, other, bases[other], config.timeoutMs, fetchFn), color: other, failedOver: true };
}
