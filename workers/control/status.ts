/**
 * The status page: the split drawn, the guard, recent history, as HTML and
 * as JSON. handler.ts lets a request in only with STATUS_SECRET (limiter
 * first). Everything shown is read from ROLLOUT_KV on each request (no
 * isolate state: what one splitter isolate holds is in its logs, docs/splitter.md),
 * and, with guard.metrics, from one Analytics Engine query (metrics.ts).
 */
import type { IRequest } from "itty-router";
import { IttyRouter } from "itty-router/IttyRouter";
import { readRollout, recentHistory, type HistoryLine } from "../../shared/rollout/write.ts";
import { guardState, otherColor, type RolloutConfig } from "../splitter/model.ts";
import { effectivePercent } from "../splitter/schedule.ts";
import type { ColorStats } from "../../shared/rollout/decide.ts";
import type { Deps } from "./deps.ts";
import { lookAtTraffic, type MetricsLook } from "./metrics.ts";
import { webhookKey, webhookUrls } from "./webhook.ts";

/** The status page's prefix (`/__edgekv/status` and `/__edgekv/status.json`). */
export const STATUS_PREFIX = "/__edgekv/status";
/** History entries the page shows, newest first. */
export const STATUS_HISTORY = 5;

/**
 * What the status endpoint reports.
 * @example statusJson(config, null, [], deps) // { version: 3, live: "blue", percentNow: 20, error: null, ... }
 */
export function statusJson(config: RolloutConfig | null, error: string | null, history: HistoryLine[], deps: Deps, metrics: MetricsLook | null = null) {
  const now = deps.now();
  const eff = config ? effectivePercent(config, now) : null;
  return {
    ok: config !== null && error === null,
    now: new Date(now).toISOString(),
    version: config?.version ?? null,
    live: config?.live ?? null,
    canary: config ? otherColor(config.live) : null,
    percentConfigured: config?.percent ?? null,
    percentNow: eff?.percent ?? null,
    scheduleStep: eff ? eff.step : null,
    nextStep: eff?.next ?? null,
    /** Why the stored config is not valid (the splitters serve their last good one meanwhile). */
    error,
    // As of the last cron tick that changed it (the cron writes only on a trip).
    guard: config?.guard
      ? { state: guardState(config), action: config.guard.action, since: config.guard.trip?.at ?? null, reason: config.guard.trip?.reason ?? null }
      : null,
    // guard.metrics: each colour's window and the verdict on it, looked at now (one query; no KV state).
    metrics: metrics && { window: config?.guard?.metrics?.windowMinutes, blue: rates(metrics.blue), green: rates(metrics.green), verdict: metrics.verdict },
    mirrorPercent: config?.mirror?.percent ?? 0,
    webhooks: config ? webhooksOf(config, deps) : null,
    history,
    config,
  };
}

const rates = (s: ColorStats) => ({ ...s, errorRate: s.requests > 0 ? s.errors / s.requests : null });

/** How many receivers the cron would notify, and whether it can sign (else webhooks are off). */
function webhooksOf(config: RolloutConfig, deps: Deps) {
  const receivers = webhookUrls(config, deps.env.WEBHOOK_URLS).length;
  return { receivers, on: receivers > 0 && webhookKey(deps.env.WEBHOOK_SECRET) !== null };
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Each colour's window as a table, and the verdict (guard.metrics). */
function metricsHtml(m: NonNullable<ReturnType<typeof statusJson>["metrics"]>): string {
  const line = (c: "blue" | "green") => {
    const s = m[c];
    const rate = s.errorRate === null ? "-" : `${(s.errorRate * 100).toFixed(2)}%`;
    return `<tr><td>${c}</td><td>${Math.round(s.requests)}</td><td>${rate}</td><td>${s.p95 === null ? "-" : `${Math.round(s.p95)} ms`}</td></tr>`;
  };
  return `<h2>Traffic, last ${m.window} min</h2><table><tr><th>colour</th><th>requests</th><th>errors</th><th>p95</th></tr>${line("blue")}${line("green")}</table>
<p>Verdict: <b>${m.verdict.action}</b>: ${esc(m.verdict.reason)}</p>`;
}

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
  if (st.metrics) body += metricsHtml(st.metrics);
  if (st.mirrorPercent) body += `<p>Mirroring ${st.mirrorPercent}% of GET/HEAD to the other colour.</p>`;
  if (st.error) body += `<p>The stored config is not valid: ${esc(st.error)}</p>`;
  if (st.history.length)
    body += `<h2>Recent changes</h2><ol>${st.history.map((h) => `<li>v${h.version} ${esc(h.at)} by ${esc(h.by)}: ${esc(h.action)}</li>`).join("")}</ol>`;
  return `<!doctype html><meta charset="utf-8"><title>edgekv rollout</title><h1>edgekv rollout</h1>${body}`;
}

const NO_STORE = { "cache-control": "no-store" };

async function current(deps: Deps) {
  const kv = deps.env.ROLLOUT_KV;
  const [read, history] = await Promise.all([readRollout(kv), recentHistory(kv, STATUS_HISTORY)]);
  const metrics = read.config ? await lookAtTraffic(read.config, deps.env, deps.fetch ?? ((r) => fetch(r)), deps.now()) : null;
  return statusJson(read.config, read.issues.length ? read.issues.join("; ") : null, history, deps, metrics);
}

/** The endpoints (trailing slashes match too). Unmatched: undefined (handler.ts answers 404). */
export const statusRouter = IttyRouter<IRequest, [Deps]>({ base: STATUS_PREFIX })
  .get(".json", async (_req, deps) => Response.json(await current(deps), { headers: NO_STORE }))
  .get("/", async (_req, deps) => new Response(html(await current(deps)), { headers: { ...NO_STORE, "content-type": "text/html; charset=utf-8" } }));
