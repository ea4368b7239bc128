import { HttpError, httpErrorResponse } from "../../shared/http/errors.ts";
import { KvOps } from "../../shared/kv/read.ts";
import { DEFAULT_TIMEOUT_MS, guardState, type Color, type RolloutConfig } from "./model.ts";
import { normalizePath, type PathPolicy } from "../../shared/http/path.ts";
import { parseOriginBase } from "../../shared/http/target.ts";
import { parseForwardedHost } from "../../shared/http/forward.ts";
import { appendVary } from "../../shared/http/vary.ts";
import { callOrigin, forward, type Attempt, type OriginFetch, type Target } from "./origin.ts";
import { mirror, type Background } from "./mirror.ts";
import { measure } from "./metrics.ts";
import { readOverride } from "./override.ts";
import { decide, type Reason } from "./route.ts";
import type { ConfigSource } from "./store.ts";
import type { SplitterEnv } from "./env.ts";
import { stickyCookie, stickyId } from "./sticky.ts";

export interface Deps {
  env: SplitterEnv;
  source: ConfigSource;
  /** How origins are called (the global fetch in production). */
  fetch: OriginFetch;
  now: () => number;
}

/**
 * The splitter makes no access decision, and Java apps put `;jsessionid=` in
 * paths: path parameters pass, but never on an empty or dot segment.
 */
export const PATH_POLICY: PathPolicy = { pathParams: true };

/** Seconds a client should wait after a 503 for want of config. */
const RETRY_AFTER_S = "5";

function finish(attempt: Attempt, headers: Record<string, string>, setCookie: string | undefined, timing: string, vary: string[] = []): Response {
  let res: Response;
  if (!attempt.ok) res = httpErrorResponse(attempt.error);
  else if (attempt.response.status === 101) {
    // A WebSocket upgrade: hand the socket through untouched.
    const r = attempt.response;
    res = new Response(null, { status: 101, headers: r.headers, webSocket: r.webSocket });
  } else res = new Response(attempt.response.body, attempt.response);
  for (const [k, v] of Object.entries(headers)) res.headers.set(k, v);
  if (setCookie) res.headers.append("set-cookie", setCookie);
  res.headers.append("server-timing", timing);
  appendVary(res.headers, vary);
  return res;
}

/**
 * Routes one request to blue or green and forwards it. Never throws: origin
 * failures are 502/504, missing config is the fallback origin or 503.
 * `bg` (the request's ExecutionContext) runs mirrored copies after the
 * response; without it nothing is mirrored.
 * @example return handle(request, { env, source, fetch, now: Date.now }, ctx);
 */
export async function handle(request: Request, deps: Deps, bg?: Background): Promise<Response> {
  const url = new URL(request.url);
  // One path policy (shared/http/path.ts): route on the normalised path and forward exactly it.
  const np = normalizePath(url.pathname, PATH_POLICY);
  if (!np.ok) return httpErrorResponse(new HttpError(np.status, "invalid_path", np.reason));
  // No path is the splitter's own: /__edgekv/* is forwarded like any other (the status page is the control Worker's).
  let forwardedHost: string | undefined;
  try {
    forwardedHost = parseForwardedHost(deps.env.FORWARDED_HOST);
  } catch (err) {
    return httpErrorResponse(misconfigured(err));
  }
  const to: Target = { incoming: url, path: np.encoded, search: url.search, forwardedHost };
  const ops = new KvOps();
  const config = await deps.source.load(ops);
  const now = deps.now();
  const started = Date.now();
  const timing = () => `${ops.toServerTiming()}, origin;dur=${Date.now() - started}`;

  if (!config) return withoutConfig(request, to, deps, timing);

  const sticky = stickyId(request.headers, config.sticky);
  const override = await readOverride(request.headers, config.overrides, deps.env.OVERRIDE_SECRET, now);
  const d = decide(config, {
    method: request.method,
    path: np.path,
    headers: request.headers,
    cf: request.cf as { country?: unknown; colo?: unknown } | undefined,
    id: sticky.id,
    override,
    now,
  });
  // The origin sees exactly one sticky pair, the id used (minted on the very first request, as on the next ones).
  to.sticky = { name: config.sticky.cookie, id: sticky.cookie };
  const f = await forward(request, to, config, d.color, deps.fetch);
  // Only now that the user's request has its response headers (its origin has taken it): the copy
  // never overtakes it. After a failover both colours have seen the request: no copy.
  if (bg && !f.failedOver) mirror(request, to, config, d.color, deps.fetch, bg);
  // Analytics Engine only, never awaited (metrics.ts).
  measure(deps.env, config.version, d.color, d.reason, f, request.cf?.colo, Date.now() - started);
  const reason: Reason = f.failedOver ? "failover" : d.reason;
  const color: Color = f.color;
  return finish(
    f.attempt,
    {
      "x-edgekv-color": color,
      "x-edgekv-bucket": String(d.bucket),
      "x-edgekv-config-version": String(config.version),
      // With a guard, its state rides along (the why is on the control Worker's status page): "schedule; guard=paused".
      "x-edgekv-reason": config.guard ? `${reason}; guard=${guardState(config)}` : reason,
    },
    sticky.minted ? stickyCookie(config.sticky.cookie, sticky.id, config.sticky.maxAgeSeconds) : undefined,
    timing(),
    varyOf(config, !!deps.env.OVERRIDE_SECRET),
  );
}

/**
 * The request headers the colour may depend on, for Vary: the cookies (sticky
 * id, override, rule cookies), the sticky header, the override header, rule
 * headers. A shared cache keyed on them never serves one visitor's colour to
 * another. (IP stickiness, country and colo are not headers a cache can key on.)
 */
function varyOf(config: RolloutConfig, overrides: boolean): string[] {
  const v = ["Cookie"];
  if (config.sticky.by === "header" && config.sticky.header) v.push(config.sticky.header);
  if (overrides) v.push(config.overrides.header);
  for (const r of config.rules ?? []) if (r.match.header) v.push(r.match.header.name);
  return v;
}

/** No valid config was ever read: the fallback origin when set, else 503 (the reason goes to the logs). */
async function withoutConfig(request: Request, to: Target, deps: Deps, timing: () => string): Promise<Response> {
  const fallback = deps.env.FALLBACK_ORIGIN;
  let attempt: Attempt;
  try {
    attempt = fallback
      ? await callOrigin(request, to, "fallback", parseOriginBase(fallback), DEFAULT_TIMEOUT_MS, deps.fetch)
      : {
          ok: false,
          error: new HttpError(
            503,
            "no_rollout_config",
            "no rollout config is available, retry shortly",
            { "Retry-After": RETRY_AFTER_S },
            { cause: new Error(`no FALLBACK_ORIGIN, and ${deps.source.lastError?.message ?? "no config read yet"}`) },
          ),
        };
  } catch (err) {
    // A FALLBACK_ORIGIN that is not an http(s) origin.
    attempt = { ok: false, error: misconfigured(err) };
  }
  return finish(
    attempt,
    { "x-edgekv-color": "none", "x-edgekv-bucket": "-", "x-edgekv-config-version": "none", "x-edgekv-reason": "fallback" },
    undefined,
    timing(),
  );
}

/** The 500 of a bad var (FORWARDED_HOST, FALLBACK_ORIGIN); `cause` (the parse error) goes to the logs. */
const misconfigured = (cause: unknown) => new HttpError(500, "misconfigured", "the splitter is misconfigured", {}, { cause });
