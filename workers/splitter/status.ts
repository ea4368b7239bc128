import type { IRequest } from "itty-router";
import { IttyRouter } from "itty-router/IttyRouter";
import { timingSafeEqualStrings } from "../../shared/crypto.ts";
import { bearerSecret } from "../../shared/http/bearer.ts";
import { HttpError, toErrorResponse } from "../../shared/http/errors.ts";
import { clientKey, tooManyFailures as rateLimited } from "../../shared/http/limiter.ts";
import { secretState, weakSecretError } from "../../shared/http/secrets.ts";
import { guardState, otherColor, type RolloutConfig } from "./model.ts";
import type { Deps } from "./handler.ts";
import { effectivePercent } from "./schedule.ts";
import { webhookKey, webhookUrls } from "./webhook.ts";

/** The Worker's own endpoints live under this prefix; everything else is proxied. */
export const STATUS_PREFIX = "/__edgekv/status";
/** The window of the FAILED_STATUS_LIMITER binding (wrangler.toml `simple.period`), sent as Retry-After. */
export const STATUS_RATE_LIMIT_PERIOD_SECONDS = 60;
/**
 * Query parameter names that look like a credential. The secret is read from
 * `Authorization` only (URLs end up in logs, histories and Referer headers);
 * such a parameter is refused and counted as a failed attempt, even when right.
 */
export const SECRET_QUERY_PARAM = /token|secret|auth|key|bearer|pass/i;

/**
 * What the status endpoint reports.
 * @example statusJson(deps) // { version: 3, live: "blue", percentNow: 20, lastError: null, ... }
 */
export function statusJson(config: RolloutConfig | null, deps: Deps) {
  const now = deps.now();
  const eff = config ? effectivePercent(config, now) : null;
  const s = deps.source;
  return {
    ok: config !== null && !s.failing,
    now: new Date(now).toISOString(),
    version: config?.version ?? null,
    live: config?.live ?? null,
    canary: config ? otherColor(config.live) : null,
    percentConfigured: config?.percent ?? null,
    percentNow: eff?.percent ?? null,
    scheduleStep: eff ? eff.step : null,
    nextStep: eff?.next ?? null,
    servingLastGood: s.failing && config !== null,
    lastError: s.lastError ? { message: s.lastError.message, at: new Date(s.lastError.at).toISOString() } : null,
    loadedAt: s.loadedAt ? new Date(s.loadedAt).toISOString() : null,
    configTtlMs: s.ttlMs,
    overridesEnabled: secretState("OVERRIDE_SECRET", "splitter", deps.env.OVERRIDE_SECRET).kind === "ok",
    fallbackOrigin: deps.env.FALLBACK_ORIGIN || null,
    // As of the last cron tick that changed it (the cron writes only on a trip).
    guard: config?.guard
      ? { state: guardState(config), action: config.guard.action, since: config.guard.trip?.at ?? null, reason: config.guard.trip?.reason ?? null }
      : null,
    mirrorPercent: config?.mirror?.percent ?? 0,
    webhooks: config ? webhooksOf(config, deps) : null,
    config,
  };
}

/** How many receivers the cron would notify, and whether it can sign (else webhooks are off). */
function webhooksOf(config: RolloutConfig, deps: Deps) {
  const receivers = webhookUrls(config, deps.env.WEBHOOK_URLS).length;
  return { receivers, on: receivers > 0 && webhookKey(deps.env.WEBHOOK_SECRET) !== null };
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The split as a bar and, when there is a schedule, the schedule as a step
 * line with a "now" marker, in one inline SVG. The colours are named
 * "blue" and "green", which are also SVG colour names.
 */
function html(st: ReturnType<typeof statusJson>): string {
  const c = st.config;
  let body = "<p>No valid config.</p>";
  if (c && st.percentNow !== null) {
    const p = st.percentNow;
    const other = otherColor(c.live);
    const steps = c.schedule ?? [];
    body = `<p>v${c.version}: live <b>${c.live}</b> (${esc(c.origins[c.live])}), <b>${p}%</b> to ${other} (${esc(c.origins[other])})</p>
<svg width="400" height="${steps.length ? 134 : 24}" role="img" aria-label="${100 - p}% ${c.live}, ${p}% ${other}"><rect width="400" height="24" fill="${c.live}"/><rect width="${p * 4}" height="24" fill="${other}"/>`;
    if (steps.length) {
      // Time runs left to right over the schedule (+10%), the percentage bottom (0) to top (100), below the bar.
      const t0 = Date.parse(steps[0]!.at);
      const span = Math.max(1, Date.parse(steps[steps.length - 1]!.at) - t0) * 1.1;
      const x = (t: number) => Math.round(Math.min(1, Math.max(0, (t - t0) / span)) * 400);
      let d = `M0 ${134 - c.percent}`;
      for (const s of steps) d += `H${x(Date.parse(s.at))}V${134 - s.percent}`;
      const now = x(Date.parse(st.now));
      body += `<path d="${d}H400" fill="none" stroke="${other}" stroke-width="2"/><path d="M${now} 34V134" stroke="#999"/></svg>
<h2>Schedule</h2><ol>${steps.map((s) => `<li>${esc(s.at)}: ${s.percent}%</li>`).join("")}</ol>`;
    } else body += "</svg>";
  }
  const g = st.guard;
  if (g) body += `<p>Guard: <b>${g.state}</b>${g.since ? ` since ${esc(g.since)}: ${esc(g.reason)}` : ""} (action: ${g.action})</p>`;
  if (st.mirrorPercent) body += `<p>Mirroring ${st.mirrorPercent}% of GET/HEAD to the other colour.</p>`;
  if (st.lastError) body += `<p>Last config error (${st.lastError.at}): ${esc(st.lastError.message)}</p>`;
  return `<!doctype html><meta charset="utf-8"><title>edgekv rollout</title><h1>edgekv rollout</h1>${body}`;
}

const NO_STORE = { "cache-control": "no-store" };
const current = async (deps: Deps) => statusJson((await deps.source.load()).config, deps);

// The Worker's own endpoints, routed by itty-router (trailing slashes match too).
const router = IttyRouter<IRequest, [Deps]>({ base: STATUS_PREFIX })
  .get(".json", async (_req, deps) => Response.json(await current(deps), { headers: NO_STORE }))
  .get("/", async (_req, deps) => new Response(html(await current(deps)), { headers: { ...NO_STORE, "content-type": "text/html; charset=utf-8" } }));

const unauthorized = (message: string) => new HttpError(401, "unauthorized", message, { "WWW-Authenticate": "Bearer" });

/**
 * `/__edgekv/status` (HTML) and `/__edgekv/status.json`: off (404) unless
 * STATUS_SECRET is set; 503 weak_secret while it is shorter than
 * MIN_SECRET_BYTES; then `Authorization: Bearer <secret>` only. Order: the
 * failed-attempt limiter first (a locked-out client gets 429 even with the
 * right secret), then the secret; only failures count.
 * @example await statusResponse(request, new URL(request.url), deps)
 */
export async function statusResponse(request: Request, url: URL, deps: Deps): Promise<Response> {
  try {
    const state = secretState("STATUS_SECRET", "splitter", deps.env.STATUS_SECRET);
    if (state.kind === "off") throw new HttpError(404, "not_found", "status endpoint off (no STATUS_SECRET)");
    if (state.kind === "weak") throw weakSecretError("STATUS_SECRET", "splitter");
    const inQuery = [...url.searchParams].find(([name]) => SECRET_QUERY_PARAM.test(name));
    const given = bearerSecret(request.headers);
    const key = await clientKey(request, given || inQuery?.[1]);
    const blocked = deps.limiter?.retryAfter(key) ?? 0;
    if (blocked > 0) throw rateLimited(blocked);
    let refusal: HttpError | undefined;
    // Never echo the parameter: its name may be the secret itself (`?<secret>`).
    if (inQuery)
      refusal = unauthorized("a secret in the URL query is refused: send Authorization: Bearer <STATUS_SECRET>, and rotate the secret if it was real");
    else if (!(await timingSafeEqualStrings(given, state.secret))) refusal = unauthorized("Authorization: Bearer <STATUS_SECRET> required");
    if (refusal) {
      const wait = (await deps.limiter?.fail(key)) ?? 0;
      throw wait > 0 ? rateLimited(wait) : refusal;
    }
    const res = (await router.fetch(request as IRequest, deps)) as Response | undefined;
    if (!res) throw new HttpError(404, "not_found", `try ${STATUS_PREFIX}(.json)`);
    return res;
  } catch (err) {
    return toErrorResponse(err);
  }
}
