// The soak's schedule (scripts/soak/schedule.ts) on a virtual clock: however
// long each CLI call takes (a busy machine) and however long the run, no
// operator event acts while a fault holds what it needs; the rollout change
// waits for the bad config's restore, then acts. Deterministic: no real time.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CHAOS_PLAN,
  SEED_PERCENT,
  incompatible,
  rolloutSetArgs,
  runPlan,
  type Clock,
  type Ran,
  type Step,
  type StepActions,
} from "../../../scripts/soak/schedule.ts";

/** A clock whose time moves only when every task waits on it: then it jumps to the next timer. */
function virtualClock() {
  let now = 0;
  let seq = 0;
  const timers: { at: number; seq: number; fire: () => void }[] = [];
  const clock: Clock = {
    now: () => now,
    sleep: (ms) => new Promise<void>((fire) => timers.push({ at: now + ms, seq: seq++, fire })),
  };
  async function drive<T>(work: Promise<T>): Promise<T> {
    let settled = false;
    const result = work.finally(() => {
      settled = true;
    });
    result.catch(() => {});
    for (;;) {
      await new Promise((r) => setImmediate(r)); // every ready promise chain runs first
      if (settled) return result;
      timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = timers.shift();
      if (!next) throw new Error("deadlock: every step waits and no timer is left");
      now = Math.max(now, next.at);
      next.fire();
    }
  }
  return { clock, drive };
}

/** Durations (ms) of each step's calls, by its index in the plan. */
type Durations = { on: number; off: number; act: number }[];

/**
 * Runs `plan` with each call taking its duration, and a model of the rollout config: a fault that
 * breaks it makes it garbage from the start of `on` to the end of `off`; an operator event that needs
 * it records a violation if it is garbage when the event starts or ends.
 */
async function simulate(plan: readonly Step[], seconds: number, durations: Durations) {
  const { clock, drive } = virtualClock();
  const broken = new Set<string>();
  const violations: string[] = [];
  const actions = (step: Step): StepActions => {
    const d = durations[plan.indexOf(step)] ?? { on: 0, off: 0, act: 0 };
    const check = (when: string) => {
      for (const r of step.needs ?? []) if (broken.has(r)) violations.push(`${step.name} at ${step.from} ${when} while ${r} was broken (t=${clock.now()})`);
    };
    return {
      on: async () => {
        for (const r of step.breaks ?? []) broken.add(r);
        await clock.sleep(d.on);
      },
      off: async () => {
        await clock.sleep(d.off);
        for (const r of step.breaks ?? []) broken.delete(r);
      },
      act: async () => {
        check("started");
        await clock.sleep(d.act);
        check("ended");
      },
    };
  };
  const ran = await drive(runPlan(plan, { runStart: 0, seconds, clock, actions }));
  return { ran, violations };
}

const overlapping = (ran: Ran[]) =>
  ran.flatMap((a, i) =>
    ran
      .slice(i + 1)
      .filter((b) => incompatible(a.step, b.step) && a.start < b.end && b.start < a.end)
      .map((b) => `${a.step.name}/${b.step.name}`),
  );

const durationsArb = (n: number) =>
  fc.array(fc.record({ on: fc.integer({ min: 0, max: 30_000 }), off: fc.integer({ min: 0, max: 30_000 }), act: fc.integer({ min: 0, max: 30_000 }) }), {
    minLength: n,
    maxLength: n,
  });

describe("the soak's schedule", () => {
  it("the plan: every rollout change needs the rollout config, and the bad config breaks it", () => {
    const changes = CHAOS_PLAN.filter((s) => s.name === "rollout-change");
    expect(changes.length).toBeGreaterThanOrEqual(2);
    for (const c of changes) expect(incompatible(c, CHAOS_PLAN.find((s) => s.name === "bad-config")!)).toBe(true);
    // The faults that touch only the Workers or the origins do not hold an operator back.
    expect(incompatible(changes[0]!, CHAOS_PLAN.find((s) => s.name === "kv-down")!)).toBe(false);
  });

  it("however slow each CLI call and however long the run, no operator event meets a fault that makes it impossible", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 5, max: 600 }), durationsArb(CHAOS_PLAN.length), async (seconds, durations) => {
        const { ran, violations } = await simulate(CHAOS_PLAN, seconds, durations);
        expect(violations).toEqual([]);
        expect(overlapping(ran)).toEqual([]);
        expect(ran.length).toBe(CHAOS_PLAN.length); // every step ran once: nothing waits forever
      }),
      { numRuns: 200 },
    );
  });

  it("any plan of faults and operator events, in any order: never met, never stuck", async () => {
    const stepArb = fc.oneof(
      fc
        .tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 0.5, noNaN: true }))
        .map(([from, len]): Step => ({ name: "bad-config", from, to: Math.min(1, from + len), breaks: ["rollout-config"] })),
      fc.double({ min: 0, max: 1, noNaN: true }).map((from): Step => ({ name: "rollout-change", from, needs: ["rollout-config"], percent: 50 })),
      fc.double({ min: 0, max: 1, noNaN: true }).map((from): Step => ({ name: "kv-down", from, to: Math.min(1, from + 0.1) })),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 120 }),
        durationsArb(8),
        async (plan, seconds, durations) => {
          const { ran, violations } = await simulate(plan, seconds, durations);
          expect(violations).toEqual([]);
          expect(overlapping(ran)).toEqual([]);
          expect(ran.length).toBe(plan.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("on a busy machine the rollout change waits for the restore, then acts (the failure the issue saw)", async () => {
    // 20 s (--quick): the bad config goes off at 14 s, the change is due at 14.8 s, and the restore takes 3 s.
    const durations: Durations = CHAOS_PLAN.map((s) => (s.name === "bad-config" ? { on: 500, off: 3_000, act: 0 } : { on: 0, off: 0, act: 200 }));
    const { ran, violations } = await simulate(CHAOS_PLAN, 20, durations);
    expect(violations).toEqual([]);
    const bad = ran.find((r) => r.step.name === "bad-config")!;
    const change = ran.find((r) => r.step.name === "rollout-change" && r.step.from === 0.74)!;
    expect(bad.end).toBe(17_000);
    expect(change.start).toBe(bad.end); // planned for 14.8 s: it waited for the restore
  });

  it("rollout set passes --allow-decrease exactly where it lowers the share on purpose", () => {
    const args = rolloutSetArgs(CHAOS_PLAN);
    const lowered = [...args.values()].filter((a) => a.includes("--allow-decrease"));
    expect(lowered.length).toBeGreaterThanOrEqual(1); // the plan steps down once on purpose
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 10 }), (seed, percents) => {
        const plan: Step[] = percents.map((percent, i) => ({ name: "rollout-change", from: (i + 1) / 20, needs: ["rollout-config"], percent }));
        const got = rolloutSetArgs(plan, seed);
        let previous = seed;
        for (const step of plan) {
          expect(got.get(step)).toEqual(["rollout", "set", String(step.percent), ...(step.percent! < previous ? ["--allow-decrease"] : [])]);
          previous = step.percent!;
        }
      }),
    );
    expect(SEED_PERCENT).toBe(20);
  });
});
