// The soak's fault schedule: what happens when, and the rule that keeps the
// soak from tripping over itself. An operator event (a rollout change) never
// acts while a fault holds what it needs (a garbage rollout config, which the
// CLI rightly refuses to edit): it waits for the fault's restore, then acts,
// as an operator would. Enforced at run time by a lock per resource, so a busy
// machine that stretches a CLI call cannot make them meet. No I/O here: the
// clock and the actions are injected (test/node/bench/soak-schedule.test.ts).
import type { FaultName } from "./classify.ts";

/** Something an operator event needs intact and a fault may break. */
export type Resource = "rollout-config";

export interface Step {
  name: FaultName;
  /** Fraction of the run at which it starts (a window: goes on; an event: acts). */
  from: number;
  /** A window: the fraction at which it goes off. None for an event. */
  to?: number;
  /** A fault window: what it leaves unusable from before `on` until its `off` has completed. */
  breaks?: readonly Resource[];
  /** An operator event: what must be intact while it acts. */
  needs?: readonly Resource[];
  /** A rollout change: the green share it sets. */
  percent?: number;
}

/** The rollout's green share the soak seeds (`rollout init --percent`). */
export const SEED_PERCENT = 20;

/** Every fault and operator event of a soak run, at fractions of its length. */
export const CHAOS_PLAN: readonly Step[] = [
  { name: "token-revoke", from: 0.04 },
  { name: "kv-down", from: 0.08, to: 0.18 },
  { name: "rollout-change", from: 0.2, needs: ["rollout-config"], percent: 40 },
  { name: "origin-down", from: 0.3, to: 0.4 },
  { name: "origin-slow", from: 0.45, to: 0.55 },
  { name: "bad-config", from: 0.55, to: 0.7, breaks: ["rollout-config"] },
  { name: "rollout-change", from: 0.74, needs: ["rollout-config"], percent: 70 },
  // A step down on purpose: the CLI refuses to lower the share in force without --allow-decrease.
  { name: "rollout-change", from: 0.8, needs: ["rollout-config"], percent: 50 },
  { name: "site-deploy", from: 0.84 },
];

/** True when `a` and `b` must never run at the same time: one breaks what the other needs. */
export function incompatible(a: Pick<Step, "breaks" | "needs">, b: Pick<Step, "breaks" | "needs">): boolean {
  const hits = (x?: readonly Resource[], y?: readonly Resource[]) => (x ?? []).some((r) => (y ?? []).includes(r));
  return hits(a.breaks, b.needs) || hits(b.breaks, a.needs) || hits(a.breaks, b.breaks);
}

/**
 * The `edgekv rollout set` arguments of each rollout change in `plan`, in plan order:
 * `--allow-decrease` exactly where it lowers the share the previous change (or the seed) left.
 */
export function rolloutSetArgs(plan: readonly Step[], seedPercent = SEED_PERCENT): Map<Step, string[]> {
  const out = new Map<Step, string[]>();
  let previous = seedPercent;
  for (const step of [...plan].sort((a, b) => a.from - b.from)) {
    if (step.name !== "rollout-change" || step.percent === undefined) continue;
    out.set(step, ["rollout", "set", String(step.percent), ...(step.percent < previous ? ["--allow-decrease"] : [])]);
    previous = step.percent;
  }
  return out;
}

/** What one step does: a window's `on` and `off`, an event's `act`. */
export interface StepActions {
  on?: () => Promise<void>;
  off?: () => Promise<void>;
  act?: () => Promise<void>;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** A step as it ran: from the start of `on` (or `act`) to the end of `off` (or `act`), ms on the clock. */
export interface Ran {
  step: Step;
  start: number;
  end: number;
}

/** One async lock per resource: holders run one after the other, in the order they asked. */
class Locks {
  #tails = new Map<Resource, Promise<void>>();
  async hold<T>(resources: readonly Resource[], body: () => Promise<T>): Promise<T> {
    const releases: (() => void)[] = [];
    // Sorted, so two steps needing several resources cannot wait on each other.
    for (const r of [...new Set(resources)].sort()) {
      let release!: () => void;
      const mine = new Promise<void>((done) => (release = done));
      const before = this.#tails.get(r) ?? Promise.resolve();
      this.#tails.set(
        r,
        before.then(() => mine),
      );
      await before;
      releases.push(release);
    }
    try {
      return await body();
    } finally {
      for (const release of releases) release();
    }
  }
}

/**
 * Runs every step of `plan` on its own timer (a late CLI call must not delay the
 * others), starting `runStart` on `clock`, a run `seconds` long. A window holds
 * what it breaks from before `on` until `off` has completed; an event waits for
 * what it needs. `onDone` is called as each step ends (the soak records it).
 */
export async function runPlan(
  plan: readonly Step[],
  options: { runStart: number; seconds: number; clock: Clock; actions: (step: Step) => StepActions; onDone?: (ran: Ran) => void },
): Promise<Ran[]> {
  const { runStart, seconds, clock, actions } = options;
  const locks = new Locks();
  const ran: Ran[] = [];
  const at = (f: number) => runStart + f * seconds * 1000;
  const until = async (t: number) => {
    const wait = t - clock.now();
    if (wait > 0) await clock.sleep(wait);
  };
  const one = async (step: Step) => {
    const a = actions(step);
    await until(at(step.from));
    const done = await locks.hold([...(step.breaks ?? []), ...(step.needs ?? [])], async () => {
      const start = clock.now();
      if (step.to === undefined) await a.act?.();
      else {
        await a.on?.();
        await until(at(step.to));
        await a.off?.();
      }
      return { step, start, end: clock.now() };
    });
    ran.push(done);
    options.onDone?.(done);
  };
  await Promise.all(plan.map(one));
  return ran;
}
