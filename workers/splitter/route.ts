import { cookieValue } from "../../shared/http/cookies.ts";
import { compileGlob, type GlobMatcher } from "../../shared/http/glob.ts";
import { bucketOf, inCanary } from "./bucket.ts";
import { otherColor, type Color, type RolloutConfig, type Rule } from "./model.ts";
import { effectivePercent } from "./schedule.ts";

/** Why a request went where it went (the `x-edgekv-reason` header). */
export type Reason = "bucket" | "rule" | "override" | "schedule" | "failover" | "fallback" | "guard";

export interface RouteInput {
  method: string;
  /** The normalised, decoded path (shared/http/path.ts). */
  path: string;
  headers: Headers;
  /** `request.cf` (country, colo); absent locally. */
  cf?: { country?: unknown; colo?: unknown } | undefined;
  /** The sticky id (already minted for a new visitor). */
  id: string;
  /** A verified tester override, or null. */
  override: Color | null;
  now: number;
}

export interface Decision {
  color: Color;
  reason: Reason;
  bucket: number;
  /** The percentage that applied to the non-live colour. */
  percent: number;
}

// Compiled once per rule object; a new config brings new objects.
const globs = new WeakMap<Rule, GlobMatcher>();

/**
 * True when every condition of the rule holds for the request.
 * @example ruleMatches({ match: { path: "/api/*", method: ["POST"] }, to: "blue" }, input) // true for POST /api/x
 */
export function ruleMatches(rule: Rule, input: RouteInput): boolean {
  const m = rule.match;
  if (m.path !== undefined) {
    let g = globs.get(rule);
    if (!g) globs.set(rule, (g = compileGlob(m.path)));
    if (!g(input.path)) return false;
  }
  if (m.method && !m.method.includes(input.method)) return false;
  if (m.header) {
    const v = input.headers.get(m.header.name);
    if (v === null || (m.header.value !== undefined && v !== m.header.value)) return false;
  }
  if (m.cookie) {
    const v = cookieValue(input.headers.get("cookie"), m.cookie.name);
    if (v === null || (m.cookie.value !== undefined && v !== m.cookie.value)) return false;
  }
  if (m.country && !m.country.includes(String(input.cf?.country ?? ""))) return false;
  if (m.colo && !m.colo.includes(String(input.cf?.colo ?? ""))) return false;
  return true;
}

/**
 * Picks the colour for one request: a verified override, else the live colour
 * while a guard's rollback holds, else the first matching rule, else the
 * bucket against the percentage in force now (schedule.ts, guard included).
 * @example decide(cfg, { method: "GET", path: "/", headers, id: "abc", override: null, now: Date.now() })
 */
export function decide(config: RolloutConfig, input: RouteInput): Decision {
  const bucket = bucketOf(config.salt, input.id);
  const other = otherColor(config.live);
  const eff = effectivePercent(config, input.now);
  if (input.override) return { color: input.override, reason: "override", bucket, percent: eff.percent };
  // A guard that rolled back sends everybody (rules included) to the live colour; signed testers may still look.
  if (config.guard?.trip?.action === "rollback") return { color: config.live, reason: "guard", bucket, percent: 0 };
  for (const rule of config.rules ?? []) {
    if (!ruleMatches(rule, input)) continue;
    if (rule.to) return { color: rule.to, reason: "rule", bucket, percent: eff.percent };
    const p = rule.percent ?? 0;
    return { color: inCanary(bucket, p) ? other : config.live, reason: "rule", bucket, percent: p };
  }
  return {
    color: inCanary(bucket, eff.percent) ? other : config.live,
    reason: eff.step >= 0 ? "schedule" : "bucket",
    bucket,
    percent: eff.percent,
  };
}
