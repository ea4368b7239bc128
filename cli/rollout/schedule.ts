import { UNIT_SECONDS } from "../../shared/duration.ts";
import { UsageError } from "../errors.ts";

/**
 * Parses a step time: `now`, `+10m`, `+1h30m` (s, m, h, d), or an ISO 8601 time with a zone.
 * @example parseWhen("+10m", Date.parse("2026-11-20T10:00:00Z")) // Date.parse("2026-11-20T10:10:00Z")
 */
export function parseWhen(when: string, now: number): number {
  if (when === "now") return now;
  if (when.startsWith("+")) {
    const parts = [...when.slice(1).matchAll(/(\d+)([smhd])/g)];
    if (parts.length === 0 || parts.map((p) => p[0]).join("") !== when.slice(1)) {
      throw new UsageError(`bad step time "${when}": use now, +N[s|m|h|d] (e.g. +1h30m) or an ISO time`);
    }
    return now + parts.reduce((ms, p) => ms + Number(p[1]) * UNIT_SECONDS[p[2]!]! * 1000, 0);
  }
  const t = Date.parse(when);
  if (Number.isNaN(t)) throw new UsageError(`bad step time "${when}": use now, +N[s|m|h|d] (e.g. +1h30m) or an ISO time`);
  return t;
}

/**
 * Parses `PERCENT@WHEN` steps into schedule steps (validated later by the config schema).
 * @example parseSteps(["10@now", "20@+10m"], now) // [{ at: "2026-...", percent: 10 }, ...]
 */
export function parseSteps(args: string[], now: number): { at: string; percent: number }[] {
  return args.map((arg) => {
    const at = arg.indexOf("@");
    if (at <= 0) throw new UsageError(`bad step "${arg}": use PERCENT@WHEN, e.g. 20@+10m`);
    const p = arg.slice(0, at).replace(/%$/, "");
    const percent = Number(p);
    if (p.trim() === "" || !Number.isFinite(percent)) throw new UsageError(`bad step "${arg}": "${p}" is not a number`);
    return { at: new Date(parseWhen(arg.slice(at + 1), now)).toISOString(), percent };
  });
}
