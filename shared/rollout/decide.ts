/**
 * The guard's judgement on real traffic (issue 25): green against blue over
 * the same window and config version, as counts and a p95 per colour. Pure:
 * the control Worker feeds it what Analytics Engine answered
 * (workers/control/metrics.ts); the property tests feed it simulations
 * (test/node/rollout/decide.test.ts).
 *
 * Repeated looks: the cron looks once a minute, and a plain test at level
 * alpha on every look would raise a false alarm in far more than alpha of the
 * rollouts. Look k of a config version is tested at alpha_k = alpha * 6 / (pi^2 k^2):
 * the alpha_k sum to alpha over any number of looks, so (union bound) the chance
 * that an A/A rollout trips on ANY look is at most alpha, however long it runs.
 * The price: a later look needs stronger evidence (z 2.5 at look 1, 3.2 at
 * look 3, 4.6 at look 60), which a real regression still gives within minutes
 * (docs/splitter.md "Metrics").
 */

/** One colour's traffic in the window: weighted counts, and p95 in ms (null: unknown). */
export interface ColorStats {
  requests: number;
  /** 5xx, origin errors, timeouts and failed-over attempts. */
  errors: number;
  p95: number | null;
  /**
   * The stored points behind the counts (`count()`): with sampling (METRICS_SAMPLE, Analytics
   * Engine's own) fewer than `requests`, and the test's true sample size. Absent: `requests`.
   */
  samples?: number;
}

export interface DecidePolicy {
  /** Fewer requests than this on either colour: inconclusive, never a trip. */
  minRequests: number;
  /** Percentage points green's error rate may exceed blue's before it counts against green. */
  maxErrorDiff: number;
  /** The largest tolerated green p95 over blue p95. */
  maxLatencyRatio: number;
  /** Which look at this config version this is (1 = the first tick after it was written). */
  look: number;
  /** The false-alarm bound over all looks (default ALPHA). */
  alpha?: number;
}

export type Verdict = { action: "trip" | "hold" | "pass"; reason: string };

/** At most 1 rollout in 100 with equal error rates trips, over any number of looks. */
export const ALPHA = 0.01;
/** A p95 ratio alone never trips below this many ms of difference (2 ms vs 1 ms is noise, not a regression). */
export const LATENCY_FLOOR_MS = 25;
/** Looks beyond this are tested as this one (a version older than ~2 years of minutes). */
const MAX_LOOK = 1_000_000;

const group = (n: number) => String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
const pct = (e: number, n: number) => `${n > 0 ? ((100 * e) / n).toFixed(1) : "0.0"}%`;
const ms = (v: number | null) => (v === null ? "?" : String(Math.round(v)));

/** Upper tail of the standard normal, P(Z > z) (erfc after Numerical Recipes; relative error < 1.2e-7). */
export function normalTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const y =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? y / 2 : 1 - y / 2;
}

/** The level look `k` is tested at: alpha * 6 / (pi^2 k^2), summing to alpha over k = 1, 2, ... */
export function lookAlpha(alpha: number, k: number): number {
  const look = Number.isFinite(k) ? Math.min(MAX_LOOK, Math.max(1, Math.floor(k))) : 1;
  return (alpha * 6) / (Math.PI * Math.PI * look * look);
}

const usable = (s: ColorStats) =>
  Number.isFinite(s.requests) &&
  Number.isFinite(s.errors) &&
  s.requests >= 0 &&
  s.errors >= 0 &&
  s.errors <= s.requests &&
  (s.p95 === null || (Number.isFinite(s.p95) && s.p95 >= 0)) &&
  (s.samples === undefined || (Number.isFinite(s.samples) && s.samples >= 0 && s.samples <= s.requests));

/** The counts the test may use: sampled points, and the errors among them (the weighted rate times the points). */
function sampled(s: ColorStats): ColorStats {
  const n = s.samples ?? s.requests;
  return { requests: n, errors: s.requests > 0 ? (s.errors * n) / s.requests : 0, p95: s.p95 };
}

/**
 * One-sided z of "green's error rate exceeds blue's by more than `diff`" (a fraction), with
 * Agresti-Caffo's adjustment (one error and one success added to each colour), which keeps
 * the test honest at low counts and with zero errors.
 */
export function errorZ(blue: ColorStats, green: ColorStats, diff: number): number {
  const pg = (green.errors + 1) / (green.requests + 2);
  const pb = (blue.errors + 1) / (blue.requests + 2);
  const se = Math.sqrt((pg * (1 - pg)) / (green.requests + 2) + (pb * (1 - pb)) / (blue.requests + 2));
  return (pg - pb - diff) / se;
}

/**
 * Compares green with blue: "hold" (inconclusive: too little traffic, or numbers that make no
 * sense, which never trip), "trip" (errors or latency worse beyond the policy, with the numbers)
 * or "pass".
 * @example decide({ requests: 19310, errors: 174, p95: 388 }, { requests: 2140, errors: 103, p95: 412 }, { minRequests: 200, maxErrorDiff: 1, maxLatencyRatio: 1.5, look: 3 })
 * // { action: "trip", reason: "green 5xx 4.8% vs blue 0.9% over 2,140 / 19,310 requests; p95 412 vs 388 ms" }
 */
export function decide(blue: ColorStats, green: ColorStats, policy: DecidePolicy): Verdict {
  if (!usable(blue) || !usable(green))
    return { action: "hold", reason: "inconclusive: the metrics make no sense (negative, non-finite or more errors than requests)" };
  const numbers = `green 5xx ${pct(green.errors, green.requests)} vs blue ${pct(blue.errors, blue.requests)} over ${group(green.requests)} / ${group(blue.requests)} requests; p95 ${ms(green.p95)} vs ${ms(blue.p95)} ms`;
  // Judged on what was sampled: weighted counts would overstate the evidence N times.
  const b = sampled(blue);
  const g = sampled(green);
  if (g.requests < policy.minRequests || b.requests < policy.minRequests) {
    return { action: "hold", reason: `inconclusive (fewer than ${group(policy.minRequests)} sampled requests a colour): ${numbers}` };
  }
  const level = lookAlpha(policy.alpha ?? ALPHA, policy.look);
  if (normalTail(errorZ(b, g, policy.maxErrorDiff / 100)) <= level) return { action: "trip", reason: numbers };
  const gp = green.p95;
  const bp = blue.p95;
  if (gp !== null && bp !== null && gp > bp * policy.maxLatencyRatio && gp - bp >= LATENCY_FLOOR_MS) return { action: "trip", reason: numbers };
  return { action: "pass", reason: numbers };
}
