/**
 * Issue 25: decide(blue, green, policy) proven on simulated rollouts. Each rollout is a
 * sequence of one-minute ticks; each tick draws every colour's requests' errors (binomial,
 * seeded), and the guard looks at the sliding window of the last `windowMinutes` ticks,
 * with the look number the control Worker gives it (minutes since the version was written).
 */
import { describe, expect, it } from "vitest";
import { ALPHA, decide, errorZ, lookAlpha, normalTail, type ColorStats, type DecidePolicy } from "../../../shared/rollout/decide.ts";

/** mulberry32: a small seeded PRNG, so a failure replays. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Binomial(n, p) by geometric skips between successes: O(n p) draws. */
function binomial(n: number, p: number, rand: () => number): number {
  if (p <= 0) return 0;
  if (p >= 1) return n;
  const lq = Math.log(1 - p);
  let k = 0;
  let i = Math.floor(Math.log(1 - rand()) / lq);
  while (i < n) {
    k++;
    i += 1 + Math.floor(Math.log(1 - rand()) / lq);
  }
  return k;
}

interface Scenario {
  rps: number;
  /** Green's share, 0..1. */
  share: number;
  blueRate: number;
  greenRate: number;
  ticks: number;
  window: number;
  policy: Omit<DecidePolicy, "look">;
}

/** The first tick (1-based) at which the rollout trips, or 0. */
function simulate(s: Scenario, rand: () => number): number {
  const perMinute = s.rps * 60;
  const g = Math.round(perMinute * s.share);
  const b = perMinute - g;
  const hist: { g: number; ge: number; b: number; be: number }[] = [];
  for (let t = 1; t <= s.ticks; t++) {
    hist.push({ g, ge: binomial(g, s.greenRate, rand), b, be: binomial(b, s.blueRate, rand) });
    const w = hist.slice(-s.window);
    const sum = (f: (x: (typeof w)[number]) => number) => w.reduce((a, x) => a + f(x), 0);
    const green: ColorStats = { requests: sum((x) => x.g), errors: sum((x) => x.ge), p95: 100 };
    const blue: ColorStats = { requests: sum((x) => x.b), errors: sum((x) => x.be), p95: 100 };
    if (decide(blue, green, { ...s.policy, look: t }).action === "trip") return t;
  }
  return 0;
}

const POLICY = { minRequests: 200, maxErrorDiff: 1, maxLatencyRatio: 1.5 };
/** The strictest policy: any excess error rate counts (no tolerance). */
const STRICT = { ...POLICY, maxErrorDiff: 0 };

describe("decide: the pure verdict", () => {
  it("the normal tail and the per-look levels are what the docs say", () => {
    expect(normalTail(0)).toBeCloseTo(0.5, 6);
    expect(normalTail(1.959964)).toBeCloseTo(0.025, 5);
    expect(normalTail(-1.644854)).toBeCloseTo(0.95, 5);
    expect(normalTail(4.264891) / 1e-5).toBeCloseTo(1, 2);
    // The levels of all looks sum to alpha (to 1e-4 after 10,000 looks).
    let sum = 0;
    for (let k = 1; k <= 10_000; k++) sum += lookAlpha(ALPHA, k);
    expect(sum).toBeLessThanOrEqual(ALPHA);
    expect(sum).toBeGreaterThan(ALPHA * 0.9999);
    expect(lookAlpha(ALPHA, 0)).toBe(lookAlpha(ALPHA, 1));
    expect(lookAlpha(ALPHA, Number.NaN)).toBe(lookAlpha(ALPHA, 1));
  });

  it("gives the reason with the numbers", () => {
    const v = decide({ requests: 19_310, errors: 174, p95: 388 }, { requests: 2140, errors: 103, p95: 412 }, { ...POLICY, look: 3 });
    expect(v).toEqual({ action: "trip", reason: "green 5xx 4.8% vs blue 0.9% over 2,140 / 19,310 requests; p95 412 vs 388 ms" });
    expect(decide({ requests: 19_310, errors: 174, p95: 388 }, { requests: 2140, errors: 20, p95: 400 }, { ...POLICY, look: 3 }).action).toBe("pass");
  });

  it("judges sampled counts by the points behind them, not by the requests they stand for", () => {
    const blue = { requests: 54_000, errors: 540, p95: 50 };
    const green = { requests: 6000, errors: 90, p95: 50 };
    // As if every request were a point, 1.5% vs 1% would be evidence enough...
    expect(decide(blue, green, { ...STRICT, look: 1 }).action).toBe("trip");
    // ...but one point in 10 was kept: ten times less evidence.
    expect(decide({ ...blue, samples: 5400 }, { ...green, samples: 600 }, { ...STRICT, look: 1 }).action).toBe("pass");
    // And the minimum applies to the points.
    expect(decide({ ...blue, samples: 5400 }, { requests: 6000, errors: 6000, p95: 50, samples: 199 }, { ...STRICT, look: 1 }).action).toBe("hold");
    expect(decide({ ...blue, samples: 60_000 }, green, { ...STRICT, look: 1 }).action).toBe("hold");
  });

  it("trips on latency only beyond the ratio and the floor", () => {
    const blue = { requests: 5000, errors: 0, p95: 100 };
    expect(decide(blue, { requests: 500, errors: 0, p95: 151 }, { ...POLICY, look: 1 }).action).toBe("trip");
    expect(decide(blue, { requests: 500, errors: 0, p95: 149 }, { ...POLICY, look: 1 }).action).toBe("pass");
    // 3 ms vs 1 ms is a ratio of 3, but noise.
    expect(decide({ ...blue, p95: 1 }, { requests: 500, errors: 0, p95: 3 }, { ...POLICY, look: 1 }).action).toBe("pass");
    expect(decide({ ...blue, p95: null }, { requests: 500, errors: 0, p95: 9999 }, { ...POLICY, look: 1 }).action).toBe("pass");
  });

  it.each([
    ["NaN requests", { requests: Number.NaN, errors: 0, p95: 1 }],
    ["Infinity errors", { requests: 1e9, errors: Number.POSITIVE_INFINITY, p95: 1 }],
    ["more errors than requests", { requests: 300, errors: 301, p95: 1 }],
    ["negative requests", { requests: -5000, errors: -5000, p95: 1 }],
    ["NaN p95", { requests: 5000, errors: 5000, p95: Number.NaN }],
    ["negative p95", { requests: 5000, errors: 5000, p95: -1 }],
  ])("numbers that make no sense hold, never trip: green with %s", (_name, green) => {
    expect(decide({ requests: 5000, errors: 0, p95: 100 }, green, { ...POLICY, look: 1 })).toMatchObject({ action: "hold" });
    expect(decide(green, { requests: 5000, errors: 5000, p95: 1e9 }, { ...POLICY, look: 1 })).toMatchObject({ action: "hold" });
  });

  it("below the minimum count it never trips, whatever green does", () => {
    const rand = rng(7);
    for (let i = 0; i < 2000; i++) {
      const min = 50 + Math.floor(rand() * 1000);
      const gReq = Math.floor(rand() * min);
      const green = { requests: gReq, errors: gReq, p95: 1e6 };
      const blue = { requests: Math.floor(rand() * 1e6), errors: 0, p95: 1 };
      const v = decide(blue, green, { ...STRICT, minRequests: min, look: 1 + Math.floor(rand() * 100) });
      expect(v.action).toBe("hold");
      expect(v.reason).toMatch(/^inconclusive/);
      // And the same with blue short of the minimum.
      expect(decide({ ...blue, requests: gReq, errors: 0 }, { ...green, requests: 1e6 }, { ...STRICT, minRequests: min, look: 1 }).action).toBe("hold");
    }
    // A simulated rollout at 0.2 rps with a 1% share never reaches 200 green requests in 10 minutes.
    const rollouts = 200;
    let trips = 0;
    for (let r = 0; r < rollouts; r++)
      trips += simulate({ rps: 0.2, share: 0.1, blueRate: 0, greenRate: 1, ticks: 60, window: 10, policy: STRICT }, rand) ? 1 : 0;
    expect(trips).toBe(0);
  });
});

describe("decide on simulated rollouts with repeated looks", { timeout: 60_000 }, () => {
  // Equal true error rates (A/A), one look a minute for an hour, several traffic levels.
  it.each([
    { rps: 100, share: 0.1, rate: 0.01 },
    { rps: 100, share: 0.5, rate: 0.05 },
    { rps: 5, share: 0.1, rate: 0.02 },
    { rps: 20, share: 0.05, rate: 0.001 },
  ])("A/A at $rps rps, share $share, error rate $rate: at most 1% of 2,000 rollouts trip (strict policy, no tolerance)", ({ rps, share, rate }) => {
    const rand = rng(Math.round(rps * 1000 + share * 100 + rate * 1e5));
    const rollouts = 2000;
    let trips = 0;
    for (let r = 0; r < rollouts; r++) {
      trips += simulate({ rps, share, blueRate: rate, greenRate: rate, ticks: 60, window: 10, policy: STRICT }, rand) ? 1 : 0;
    }
    expect(trips / rollouts).toBeLessThanOrEqual(0.01);
  });

  it("A/A with METRICS_SAMPLE=10 (weighted counts, the points as samples): at most 1% of 1,000 rollouts trip", () => {
    const rand = rng(99);
    const n = 10;
    let trips = 0;
    for (let r = 0; r < 1000; r++) {
      const hist: { g: number; ge: number; b: number; be: number }[] = [];
      for (let t = 1; t <= 60; t++) {
        const g = binomial(600, 1 / n, rand);
        const b = binomial(5400, 1 / n, rand);
        hist.push({ g, ge: binomial(g, 0.02, rand), b, be: binomial(b, 0.02, rand) });
        const w = hist.slice(-10);
        const sum = (f: (x: (typeof w)[number]) => number) => w.reduce((a, x) => a + f(x), 0);
        const green = { requests: sum((x) => x.g) * n, errors: sum((x) => x.ge) * n, p95: 1, samples: sum((x) => x.g) };
        const blue = { requests: sum((x) => x.b) * n, errors: sum((x) => x.be) * n, p95: 1, samples: sum((x) => x.b) };
        if (decide(blue, green, { ...STRICT, look: t }).action === "trip") {
          trips++;
          break;
        }
      }
    }
    expect(trips / 1000).toBeLessThanOrEqual(0.01);
  });

  it("a plain test at alpha on every look would not be safe (why the levels shrink): over 1% of A/A rollouts trip", () => {
    const rand = rng(11);
    let trips = 0;
    for (let r = 0; r < 1000; r++) {
      let hits = 0;
      for (let t = 0; t < 60; t++) {
        const g = { requests: 6000, errors: binomial(6000, 0.01, rand), p95: 1 };
        const b = { requests: 54_000, errors: binomial(54_000, 0.01, rand), p95: 1 };
        if (normalTail(errorZ(b, g, 0)) <= ALPHA) hits++;
      }
      trips += hits ? 1 : 0;
    }
    expect(trips / 1000).toBeGreaterThan(0.05);
  });

  it("green at 5% errors vs blue at 1%, 10% share, 100 rps: every one of 1,000 rollouts trips within 3 ticks", () => {
    const rand = rng(5);
    const at: number[] = [];
    for (let r = 0; r < 1000; r++) at.push(simulate({ rps: 100, share: 0.1, blueRate: 0.01, greenRate: 0.05, ticks: 3, window: 10, policy: POLICY }, rand));
    expect(at.every((t) => t >= 1 && t <= 3)).toBe(true);
  });
});
