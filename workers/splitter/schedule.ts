import type { RolloutConfig } from "./model.ts";

export interface Effective {
  /** Percentage sent to the non-live colour now. */
  percent: number;
  /** Index of the schedule step in force, or -1 when the base `percent` applies. */
  step: number;
  /** The next step, if any (none while the guard holds the ramp). */
  next: { at: string; percent: number } | undefined;
}

/**
 * The percentage in force at `now`: the last schedule step whose time has
 * come, else the config's own `percent`. Pure, so no controller and no write.
 * A tripped guard holds the ramp: `pause` freezes it where it stood when the
 * guard tripped, `rollback` sends 0%.
 * @example effectivePercent(cfg, Date.parse("2026-11-20T10:15:00Z")) // { percent: 20, step: 1, next: {...} }
 */
export function effectivePercent(config: Pick<RolloutConfig, "percent" | "schedule" | "guard">, now: number): Effective {
  const trip = config.guard?.trip;
  if (trip?.action === "rollback") return { percent: 0, step: -1, next: undefined };
  const at = trip ? Math.min(now, Date.parse(trip.at)) : now;
  const steps = config.schedule ?? [];
  let step = -1;
  for (let i = 0; i < steps.length && Date.parse(steps[i]!.at) <= at; i++) step = i;
  return { percent: step < 0 ? config.percent : steps[step]!.percent, step, next: trip ? undefined : steps[step + 1] };
}
