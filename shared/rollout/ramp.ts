/**
 * What a rollout write does to the users already moved: a ramp goes towards the colour
 * that is not live in the config in force, and a write that lowers that colour's share
 * (now, or at any later step of the new schedule) moves users back. Only `rollback`
 * does that by design; every other command needs --allow-decrease or a "y" typed on a
 * terminal (cli/commands/rollout.ts). Runtime-neutral: the one rollout writer (write.ts) puts
 * the effective change first in every diff and history entry, the guard's trips included.
 */
import { otherColor, type Color, type RolloutConfig } from "../../workers/splitter/model.ts";
import { effectivePercent } from "../../workers/splitter/schedule.ts";

/** The share (0..100) `config` sends to `color` at `now`. */
export function shareOf(config: RolloutConfig, color: Color, now: number): number {
  const p = effectivePercent(config, now).percent;
  return config.live === color ? round(100 - p) : p;
}

/** Two decimals, as the schema allows: 100 - 33.33 is 66.67, not 66.67000000000002. */
const round = (n: number) => Math.round(n * 100) / 100;

export interface Decrease {
  /** The colour users are moved away from. */
  color: Color;
  /** Its share in force now, and the lower share the new config gives it. */
  from: number;
  to: number;
  /** "now", or the time of the step that lowers it. */
  when: string;
}

/**
 * The first point where `after` gives the ramp's colour (the colour `before` does not
 * serve as live) less than it had the moment before: now, then each later step of
 * `after`'s schedule. Undefined when users only move forward (or there was no config).
 * @example findDecrease(set50, { ...set50, percent: 10 }, now) // { color: "green", from: 50, to: 10, when: "now" }
 */
export function findDecrease(before: RolloutConfig | null, after: RolloutConfig, now: number): Decrease | undefined {
  if (!before) return undefined;
  const color = otherColor(before.live);
  let from = shareOf(before, color, now);
  const points: { when: string; share: number }[] = [{ when: "now", share: shareOf(after, color, now) }];
  const convert = (percent: number) => (after.live === color ? round(100 - percent) : percent);
  // A guard that holds the ramp freezes the later steps: they are not reached.
  if (!after.guard?.trip) {
    for (const step of after.schedule ?? []) if (Date.parse(step.at) > now) points.push({ when: step.at, share: convert(step.percent) });
  }
  for (const { when, share } of points) {
    if (share < from) return { color, from, to: share, when };
    from = share;
  }
  return undefined;
}

/** "50% -> 10% to green now": the effective change, for the diff and the history. */
export function describeDecrease(d: Decrease): string {
  return `${d.from}% -> ${d.to}% to ${d.color} ${d.when === "now" ? "now" : `at ${d.when}`} (moves ${round(d.from - d.to)}% of users back to ${otherColor(d.color)})`;
}

/**
 * The share in force now, before and after, as a diff line (`~ in force: 50% -> 10% to green`);
 * null when it does not change. Stated per colour so a promote (the roles swap) reads right.
 * @example effectiveChange(before, after, now) // "~ in force: 50% -> 10% to green"
 */
export function effectiveChange(before: RolloutConfig | null, after: RolloutConfig, now: number): string | null {
  if (!before) return null;
  const color = otherColor(before.live);
  const a = shareOf(before, color, now);
  const b = shareOf(after, color, now);
  return a === b ? null : `~ in force: ${a}% -> ${b}% to ${color}`;
}
