import type { Color } from "./model.ts";
import type { Attempt, Forwarded } from "./origin.ts";
import type { SplitterEnv } from "./env.ts";

/** The largest METRICS_SAMPLE: one point per million requests. */
const MAX_SAMPLE = 1_000_000;

/** What the origin's answer was: a status class, or the splitter's own 502 (error) / 504 (timeout). */
const outcomeOf = (a: Attempt): string => (a.ok ? `${Math.floor(a.response.status / 100)}xx` : a.error.code === "origin_timeout" ? "timeout" : "error");

/**
 * One Analytics Engine point per routed request when ROLLOUT_METRICS is bound
 * (docs/splitter.md "Metrics"): index = config version; blobs = colour, outcome,
 * reason, colo; doubles = ms to the answer's headers, weight. Not awaited (the
 * binding returns at once), no KV; a throwing binding never fails the request.
 * Every METRICS_SAMPLE-th request is kept, weighted by METRICS_SAMPLE, so sums
 * times the weight (and `_sample_interval`) estimate all requests. A failover
 * also counts against the colour that failed first (outcome "failover").
 */
export function measure(env: SplitterEnv, version: number, chosen: Color, reason: string, f: Forwarded, colo: unknown, ms: number): void {
  const ds = env.ROLLOUT_METRICS;
  const n = Number(env.METRICS_SAMPLE || 1);
  const weight = Number.isInteger(n) && n >= 1 && n <= MAX_SAMPLE ? n : 1;
  if (!ds || Math.random() * weight >= 1) return;
  const point = (color: Color, outcome: string, why: string) => {
    try {
      ds.writeDataPoint({ indexes: [`${version}`], blobs: [color, outcome, why, `${colo ?? ""}`.slice(0, 8)], doubles: [ms, weight] });
    } catch {}
  };
  if (f.failedOver) point(chosen, "failover", reason);
  point(f.color, outcomeOf(f.attempt), f.failedOver ? "failover" : reason);
}
