/**
 * The CLI side of the splitter's guard (issue 14): `edgekv rollout resume`
 * clears a trip after a human looked, and `edgekv rollout status` shows the
 * guard. Plain functions over the one config schema (workers/splitter/model.ts),
 * so the commands only wire them in.
 */
import { lookAtTraffic, type MetricsEnv, type MetricsLook } from "../../workers/control/metrics.ts";
import { guardState, type RolloutConfig } from "../../workers/splitter/model.ts";
import { CliError } from "../errors.ts";
import { whoAmI, type RolloutStore } from "./store.ts";

/** What `rollout status` shows of the guard (and prints under --json as `guard`). */
export interface GuardView {
  state: "off" | "healthy" | "paused" | "rolled-back";
  action: "pause" | "rollback" | null;
  /** When it tripped (ISO), and why: which probe, what it saw. */
  since: string | null;
  reason: string | null;
  /** One line per fact, for the human output. */
  lines: string[];
}

/**
 * The guard of `config` as `rollout status` shows it.
 * @example describeGuard(cfg, Date.now()).lines // ["guard:    paused since 2026-11-20T10:31:00.000Z (12 min ago)", "          probe /health on green saw HTTP 503; ...", ...]
 */
export function describeGuard(config: RolloutConfig, now: number): GuardView {
  const g = config.guard;
  const state = guardState(config);
  if (!g) return { state, action: null, since: null, reason: null, lines: ["guard:    off (no guard in the config)"] };
  const probes = g.probes.map((p) => `${p.path} (${p.status ? p.status.join("/") : "2xx"}, ${p.timeoutMs} ms)`).join(", ");
  const t = g.threshold;
  const threshold = t.of ? `${t.failures} of ${t.of} checks failing` : `${t.failures} consecutive failures`;
  const rule = `          probes ${probes}; trips on ${threshold} in one tick; then ${g.action === "pause" ? "pauses the ramp" : "rolls back to 0%"}`;
  if (!g.trip) return { state, action: g.action, since: null, reason: null, lines: ["guard:    healthy", rule] };
  const ago = Math.max(0, Math.round((now - Date.parse(g.trip.at)) / 60_000));
  return {
    state,
    action: g.trip.action,
    since: g.trip.at,
    reason: g.trip.reason,
    lines: [
      `guard:    ${state === "paused" ? "paused" : "rolled back"} since ${g.trip.at} (${ago} min ago)`,
      `          ${g.trip.reason}`,
      "          run `edgekv rollout resume` once green is fixed",
      rule,
    ],
  };
}

/** What `rollout status` shows of real traffic (and prints under --json as `metrics`). */
export interface MetricsView {
  look: MetricsLook | null;
  lines: string[];
}

/**
 * With guard.metrics and CLOUDFLARE_ACCOUNT_ID + ANALYTICS_API_TOKEN in the environment, the same
 * look the control Worker's tick takes (one Analytics Engine query, workers/control/metrics.ts):
 * each colour's requests, error rate and p95 over the window, and the verdict now. Else a line saying why not.
 * @example (await describeMetrics(cfg, process.env, fetch, Date.now())).lines // ["traffic:  last 10 min: blue 19,310 requests, ...", ...]
 */
export async function describeMetrics(config: RolloutConfig, env: MetricsEnv, fetchFn: (r: Request) => Promise<Response>, now: number): Promise<MetricsView> {
  const m = config.guard?.metrics;
  if (!m) return { look: null, lines: [] };
  const look = await lookAtTraffic(config, env, fetchFn, now);
  if (!look) return { look, lines: ["traffic:  not shown (set CLOUDFLARE_ACCOUNT_ID and ANALYTICS_API_TOKEN, a read-only analytics token)"] };
  const one = (c: "blue" | "green") => {
    const s = look[c];
    const rate = s.requests > 0 ? `${((100 * s.errors) / s.requests).toFixed(2)}% errors` : "no errors";
    return `${c} ${Math.round(s.requests).toLocaleString("en-US")} requests, ${rate}, p95 ${s.p95 === null ? "-" : `${Math.round(s.p95)} ms`}`;
  };
  return {
    look,
    lines: [`traffic:  last ${m.windowMinutes} min: ${one("blue")}; ${one("green")}`, `          verdict now: ${look.verdict.action}: ${look.verdict.reason}`],
  };
}

/**
 * `config` with its trip cleared, as of `now`. After a pause, the schedule's
 * steps still ahead when it tripped move later by the time paused, so the ramp
 * continues where it stopped instead of jumping to where the clock now is.
 * After a rollback the share stays 0% (the trip wrote it): set or schedule it again.
 * Throws a CliError when there is no guard or it has not tripped.
 * @example resumedConfig(cfg, Date.now()).guard?.trip // undefined
 */
export function resumedConfig(config: RolloutConfig, now: number): RolloutConfig {
  const g = config.guard;
  if (!g) throw new CliError("the rollout config has no guard: nothing to resume");
  if (!g.trip) throw new CliError("the guard has not tripped: nothing to resume");
  const { trip, ...rest } = g;
  const next: RolloutConfig = { ...config, guard: rest };
  const at = Date.parse(trip.at);
  const paused = Math.max(0, now - at);
  if (trip.action === "pause" && config.schedule && paused > 0) {
    next.schedule = config.schedule.map((s) => (Date.parse(s.at) > at ? { ...s, at: new Date(Date.parse(s.at) + paused).toISOString() } : s));
  }
  return next;
}

/**
 * `edgekv rollout resume`: writes the config with the trip cleared as a new
 * version with a history entry (action "resume"), through the same store as
 * every other write. Returns what changed (the caller prints it).
 * @example const r = await resumeGuard(store, whoAmI(), Date.now()); // { config, changes: ["- guard.trip.at: ...", ...] }
 */
export async function resumeGuard(store: RolloutStore, by: string = whoAmI(), now: number = Date.now()): Promise<{ config: RolloutConfig; changes: string[] }> {
  const cur = await store.current();
  const config = await store.require(cur);
  const written = await store.write(cur, resumedConfig(config, now), "resume", by);
  // resumedConfig always changes guard.trip, so write() never finds nothing to do.
  if (!written) throw new CliError("nothing to resume");
  return written;
}
