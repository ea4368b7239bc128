import { timingSafeEqualStrings } from "../../shared/crypto.ts";
import { HttpError, toErrorResponse } from "../../shared/http/errors.ts";
import { otherColor, type RolloutConfig } from "./config.ts";
import type { Deps } from "./handler.ts";
import { effectivePercent } from "./schedule.ts";

/** The Worker's own endpoints live under this prefix; everything else is proxied. */
export const STATUS_PREFIX = "/__edgekv/status";

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
    overridesEnabled: Boolean(deps.env.OVERRIDE_SECRET),
    fallbackOrigin: deps.env.FALLBACK_ORIGIN || null,
    config,
  };
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const FILL = { blue: "#2563eb", green: "#16a34a" };

/** The split as a bar, and the schedule as a step line with a "now" marker. */
function html(st: ReturnType<typeof statusJson>): string {
  const c = st.config;
  let body = `<p>No valid config. Last error: ${esc(st.lastError?.message ?? "none")}</p>`;
  if (c && st.percentNow !== null) {
    const w = st.percentNow * 4;
    const other = otherColor(c.live);
    body = `<p>v${c.version}: live <b>${c.live}</b> (${esc(c.origins[c.live])}), <b>${st.percentNow}%</b> to ${other} (${esc(c.origins[other])})</p>
<svg width="400" height="24" role="img" aria-label="${100 - st.percentNow}% ${c.live}, ${st.percentNow}% ${other}"><rect width="400" height="24" fill="${FILL[c.live]}"/><rect width="${w}" height="24" fill="${FILL[other]}"/></svg>`;
    const steps = c.schedule ?? [];
    if (steps.length) {
      const t0 = Date.parse(steps[0]!.at);
      const span = Math.max(1, Date.parse(steps[steps.length - 1]!.at) - t0) * 1.1;
      const x = (t: number) => Math.round(Math.min(1, Math.max(0, (t - t0) / span)) * 400);
      let y = 100 - c.percent;
      let d = `M0 ${y}`;
      for (const s of steps) d += ` H${x(Date.parse(s.at))} V${(y = 100 - s.percent)}`;
      body += `<h2>Schedule</h2><svg width="400" height="100" role="img" aria-label="schedule"><path d="${d} H400" fill="none" stroke="${FILL[other]}" stroke-width="2"/><line x1="${x(Date.parse(st.now))}" x2="${x(Date.parse(st.now))}" y1="0" y2="100" stroke="#999"/></svg>
<ol>${steps.map((s) => `<li>${esc(s.at)}: ${s.percent}%</li>`).join("")}</ol>`;
    }
  }
  if (st.lastError) body += `<p>Last config error (${esc(st.lastError.at)}): ${esc(st.lastError.message)}</p>`;
  return `<!doctype html><meta charset="utf-8"><title>edgekv rollout</title><h1>edgekv rollout</h1>${body}`;
}

/**
 * `/__edgekv/status` (HTML) and `/__edgekv/status.json`: off (404) unless
 * STATUS_SECRET is set; then `Authorization: Bearer <secret>` or `?token=`.
 * @example await statusResponse(new Request("https://x/__edgekv/status.json", { headers: { authorization: "Bearer s" } }), deps)
 */
export async function statusResponse(request: Request, deps: Deps): Promise<Response> {
  try {
    const secret = deps.env.STATUS_SECRET;
    if (!secret) throw new HttpError(404, "not_found", "the status endpoint is off (set STATUS_SECRET to enable it)");
    const auth = request.headers.get("authorization");
    const given = auth?.startsWith("Bearer ") ? auth.slice(7) : (new URL(request.url).searchParams.get("token") ?? "");
    if (!(await timingSafeEqualStrings(given, secret))) {
      throw new HttpError(401, "unauthorized", "give the status secret as Authorization: Bearer <secret>", { "WWW-Authenticate": "Bearer" });
    }
    const { config } = await deps.source.load();
    // Two GET endpoints (trailing slashes allowed): a router would cost more bytes than it saves.
    const path = new URL(request.url).pathname.replace(/\/+$/, "");
    const headers = { "cache-control": "no-store" };
    if (request.method === "GET" && path === STATUS_PREFIX) {
      return new Response(html(statusJson(config, deps)), { headers: { ...headers, "content-type": "text/html; charset=utf-8" } });
    }
    if (request.method === "GET" && path === `${STATUS_PREFIX}.json`) return Response.json(statusJson(config, deps), { headers });
    throw new HttpError(404, "not_found", `no such endpoint; try ${STATUS_PREFIX} or ${STATUS_PREFIX}.json`);
  } catch (err) {
    return toErrorResponse(err);
  }
}
