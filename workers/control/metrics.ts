/**
 * The guard on real traffic (issue 25; docs/splitter.md "Metrics"): once a tick,
 * one query to Analytics Engine's SQL API for both colours over the same window
 * and config version, then decide() (shared/rollout/decide.ts). Off unless the
 * config has `guard.metrics` and the control Worker has CLOUDFLARE_ACCOUNT_ID and
 * ANALYTICS_API_TOKEN. The API's answer is untrusted input: anything but a sane
 * answer is "hold" (never a trip, never a crash); the token never leaves the
 * Authorization header.
 */
import { DEFAULT_API_BASE, parseApiBase } from "../../shared/http/api-base.ts";
import { readBounded } from "../../shared/http/body.ts";
import { decide, type ColorStats, type Verdict } from "../../shared/rollout/decide.ts";
import { DATASET_RE, type GuardMetrics, type RolloutConfig } from "../splitter/model.ts";
import type { OriginFetch } from "../splitter/origin.ts";
import type { ControlEnv } from "./env.ts";

/** What the queries read of the control Worker's env. */
export type MetricsEnv = Pick<ControlEnv, "CLOUDFLARE_ACCOUNT_ID" | "ANALYTICS_API_TOKEN" | "CLOUDFLARE_API_BASE_URL">;

/** The outcomes (blob2, workers/splitter/metrics.ts) that count as errors. */
export const ERROR_OUTCOMES = ["5xx", "error", "timeout", "failover"] as const;
export const METRICS_TIMEOUT_MS = 10_000;
/** Two rows of four columns fit in well under 1 KiB; anything near this is not the answer we asked for. */
export const MAX_ANSWER_BYTES = 65_536;
/** A colour's count above this (10^12 requests in an hour's window) is not believable: hold. */
const MAX_COUNT = 1e12;
const ACCOUNT_RE = /^[0-9a-f]{32}$/;

/** What one look saw: each colour's window, and the verdict on it. */
export interface MetricsLook {
  blue: ColorStats;
  green: ColorStats;
  verdict: Verdict;
  /** The look number decide() tested at (minutes since the version was written). */
  look: number;
}

/**
 * The query: counts and error counts times the splitter's weight (double2) and Analytics Engine's
 * `_sample_interval`, p95 weighted by `_sample_interval` (a UInt, as the weight must be; the
 * splitter's own sampling is uniform, so it needs no weight in a quantile), and the points
 * stored (`count()`): the sample size decide() tests with. Only numbers and a
 * name matching DATASET_RE are put in the text, and they are checked again here.
 * @example metricsSql({ dataset: "edgekv_rollout", windowMinutes: 10, ... }, 12)
 */
export function metricsSql(m: Pick<GuardMetrics, "dataset" | "windowMinutes">, version: number): string {
  const window = m.windowMinutes;
  if (!DATASET_RE.test(m.dataset) || !Number.isSafeInteger(version) || version < 1 || !Number.isInteger(window) || window < 1 || window > 60) {
    throw new Error("metrics query: invalid dataset, version or window");
  }
  const w = "_sample_interval * double2";
  const errors = ERROR_OUTCOMES.map((o) => `'${o}'`).join(", ");
  return [
    `SELECT blob1 AS color, SUM(${w}) AS requests, SUM(if(blob2 IN (${errors}), ${w}, 0)) AS errors,`,
    `quantileExactWeighted(0.95)(double1, _sample_interval) AS p95, count() AS points`,
    `FROM ${m.dataset} WHERE index1 = '${version}' AND timestamp > NOW() - INTERVAL '${window}' MINUTE`,
    "GROUP BY color FORMAT JSON",
  ].join(" ");
}

/** A number as JSON gives it, or as ClickHouse quotes 64-bit integers ("123"); else NaN. */
const numeric = (v: unknown): number => (typeof v === "number" ? v : typeof v === "string" && /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(v) ? Number(v) : Number.NaN);

/**
 * Both colours' windows from the API's JSON (`{ meta, data: [{ color, requests, errors, p95 }], rows }`).
 * A colour without a row had no traffic. Throws on anything else: duplicate or unknown colours,
 * non-numbers, negatives, more errors than requests, absurd counts.
 */
export function parseAnswer(text: string): { blue: ColorStats; green: ColorStats } {
  let doc: { data?: unknown };
  try {
    doc = JSON.parse(text) as { data?: unknown };
  } catch {
    // Not the parser's message: it quotes the body, which is the API's (untrusted) text.
    throw new Error("the answer is not JSON");
  }
  if (!doc || typeof doc !== "object" || !Array.isArray(doc.data) || doc.data.length > 2) throw new Error("not the expected {data: [...]} of at most 2 rows");
  const out: Record<string, ColorStats> = {};
  for (const row of doc.data as Record<string, unknown>[]) {
    const color = row?.color;
    if ((color !== "blue" && color !== "green") || out[color]) throw new Error("a row with an unknown or repeated colour");
    const requests = numeric(row.requests);
    const errors = numeric(row.errors);
    const p95 = row.p95 === null || row.p95 === undefined ? null : numeric(row.p95);
    const samples = numeric(row.points);
    const sane = (n: number) => Number.isFinite(n) && n >= 0 && n <= MAX_COUNT;
    if (!sane(requests) || !sane(errors) || !sane(samples) || errors > requests || samples > requests || (p95 !== null && !sane(p95))) {
      throw new Error(`implausible numbers for ${color}`);
    }
    out[color] = { requests, errors, p95, samples };
  }
  const none: ColorStats = { requests: 0, errors: 0, p95: null, samples: 0 };
  return { blue: out.blue ?? none, green: out.green ?? none };
}

/** The look number: whole minutes since the version was written, plus one (a missing or bad time: the most cautious). */
export function lookOf(config: Pick<RolloutConfig, "updatedAt">, now: number): number {
  const at = config.updatedAt ? Date.parse(config.updatedAt) : Number.NaN;
  return Number.isFinite(at) ? Math.max(1, Math.floor((now - at) / 60_000) + 1) : 1_000_000;
}

/** Sends the query; returns the answer's text or throws an Error whose message is safe to log (no token, no body). */
async function query(env: MetricsEnv, sql: string, fetchFn: OriginFetch): Promise<string> {
  const account = env.CLOUDFLARE_ACCOUNT_ID ?? "";
  if (!ACCOUNT_RE.test(account)) throw new Error("CLOUDFLARE_ACCOUNT_ID is not a 32-character hex account id");
  const base = parseApiBase(env.CLOUDFLARE_API_BASE_URL || DEFAULT_API_BASE);
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), METRICS_TIMEOUT_MS);
  try {
    const res = await fetchFn(
      new Request(`${base.href}/accounts/${account}/analytics_engine/sql`, {
        method: "POST",
        headers: { authorization: `Bearer ${env.ANALYTICS_API_TOKEN}`, "content-type": "text/plain" },
        body: sql,
        redirect: "manual",
        signal: ctl.signal,
      }),
    );
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      throw new Error(`the analytics API answered HTTP ${res.status}`);
    }
    return new TextDecoder().decode(await readBounded(res.body, MAX_ANSWER_BYTES, "the analytics answer"));
  } catch (err) {
    throw ctl.signal.aborted ? new Error(`the analytics API did not answer within ${METRICS_TIMEOUT_MS} ms`) : err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One look at real traffic: null when off (no `guard.metrics`, or no account id and token);
 * else both windows and the verdict. Never throws: an unusable answer is a "hold" saying why.
 * @example const l = await lookAtTraffic(config, env, fetch, Date.now()); if (l?.verdict.action === "trip") ...
 */
export async function lookAtTraffic(config: RolloutConfig, env: MetricsEnv, fetchFn: OriginFetch, now: number): Promise<MetricsLook | null> {
  const m = config.guard?.metrics;
  if (!m || !env.ANALYTICS_API_TOKEN || !env.CLOUDFLARE_ACCOUNT_ID) return null;
  const look = lookOf(config, now);
  const none: ColorStats = { requests: 0, errors: 0, p95: null };
  try {
    const { blue, green } = parseAnswer(await query(env, metricsSql(m, config.version), fetchFn));
    return { blue, green, look, verdict: decide(blue, green, { ...m, look }) };
  } catch (err) {
    const why = (err instanceof Error ? err.message : String(err)).replace(/[^\x20-\x7e]/g, "?").slice(0, 200);
    return { blue: none, green: none, look, verdict: { action: "hold", reason: `inconclusive: metrics unavailable (${why})` } };
  }
}
