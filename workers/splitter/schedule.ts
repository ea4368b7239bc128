import type { RolloutConfig } from "./model.ts";

export interface Effective {
  /** Percentage sent to the non-live colour now. */
  percent: number;
  /** Index of the schedule step in force, or -1 when the base `percent` applies. */
  step: number;
  /** The next step, if any. */
  next: { at: string; percent: number } | undefined;
}

/**
 * The percentage in force at `now`: the last schedule step whose time has
 * come, else the config's own `percent`. Pure, so no controller and no write.
 * @example effectivePercent(cfg, Date.parse("2026-11-20T10:15:00Z")) // { percent: 20, step: 1, next: {...} }
 */
export function effectivePercent(config: Pick<RolloutConfig, "percent" | "schedule">, now: number): Effective {
  const steps = config.schedule ?? [];
  let step = -1;
  for (let i = 0; i < steps.length && Date.parse(steps[i]!.at) <= now; i++) step = i;
  return { percent: step < 0 ? config.percent : steps[step]!.percent, step, next: steps[step + 1] };
}
