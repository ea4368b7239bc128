/** The Worker's lite config validator accepts exactly what the CLI's valibot schema accepts, with the same defaults. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_RULES, MAX_STEPS, RolloutConfigSchema } from "../../workers/splitter/config.ts";
import { RolloutConfigShape } from "../../workers/splitter/shape.ts";
import { assertAgree, noisy, noisyRecord } from "../lib/agree.ts";

const q = <T>(a: fc.Arbitrary<T>) => noisy(a, 300);
/** Mostly `good` values, sometimes `bad` ones. */
const mostly = <T>(good: T[], bad: T[]) => fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...good) }, { weight: 1, arbitrary: fc.constantFrom(...bad) });
const color = q(mostly(["blue", "green"], ["red"]));
const percent = q(mostly([0, 10, 50, 100, 0.5, 12.25], [-1, 101, 33.333, 100.01]));
const token = q(mostly(["edgekv_id", "x-test"], ["a b", "", "é"]));
const time = q(mostly(["2026-11-20T09:00:00Z", "2026-11-20T10:00:00+01:00", "2026-11-20T11:00Z"], ["2026-11-20 12:00", "2026-13-01T00:00:00Z"]));
const url = q(mostly(["https://blue.test", "https://green.test", "http://x.test/p"], ["ftp://x", "https://a.test/?q=1", "nope"]));
const small = <T>(a: fc.Arbitrary<T>) => q(fc.array(a, { maxLength: 3 }));
const pair = noisyRecord({ name: token, value: q(fc.string({ maxLength: 3 })) }, ["value"], 200);
const match = noisyRecord(
  {
    path: q(fc.constantFrom("/api/*", "*", "api", "")),
    method: small(q(fc.constantFrom("GET", "POST", "get"))),
    header: pair,
    cookie: pair,
    country: small(q(fc.constantFrom("DE", "US", "usa"))),
    colo: small(q(fc.constantFrom("FRA", "LHR", "xx"))),
  },
  ["path", "method", "header", "cookie", "country", "colo"],
  40,
);
const rule = noisyRecord({ name: q(fc.string({ maxLength: 3 })), match, to: color, percent }, ["name", "to", "percent"], 200);
const sticky = noisyRecord(
  {
    by: q(mostly(["cookie", "header", "ip"], ["user"])),
    cookie: token,
    header: token,
    maxAgeSeconds: q(mostly([60, 3600, 34_560_000], [59, 34_560_001, 61.5])),
  },
  ["by", "cookie", "header", "maxAgeSeconds"],
  40,
);
const config = noisyRecord(
  {
    version: q(mostly([1, 2], [0, 1.5])),
    live: color,
    origins: noisyRecord({ blue: url, green: url }, [], 200),
    percent,
    salt: q(fc.string({ maxLength: 3 })),
    sticky,
    schedule: small(noisyRecord({ at: time, percent }, [], 200)),
    rules: small(rule),
    overrides: noisyRecord({ cookie: token, header: token }, ["cookie", "header"], 200),
    failover: q(fc.boolean()),
    timeoutMs: q(mostly([100, 5000, 120_000], [99, 120_001])),
    updatedAt: q(fc.string({ maxLength: 3 })),
    updatedBy: q(fc.string({ maxLength: 3 })),
  },
  ["salt", "sticky", "schedule", "rules", "overrides", "failover", "timeoutMs", "updatedAt", "updatedBy"],
  40,
);

describe("RolloutConfigShape (lite) agrees with RolloutConfigSchema (valibot)", () => {
  it("on generated configs, outputs (defaults filled) included", () => {
    const r = assertAgree(RolloutConfigSchema, RolloutConfigShape, config, 2000);
    expect(r.accepted).toBeGreaterThan(50);
    expect(r.rejected).toBeGreaterThan(50);
  });

  it("at the length bounds of schedule and rules", () => {
    const step = (i: number) => ({ at: new Date(Date.UTC(2026, 10, 20, 0, i)).toISOString(), percent: 1 });
    const rule = { match: { path: "/a" }, to: "green" };
    const base = { version: 1, live: "blue", origins: { blue: "https://b.test", green: "https://g.test" }, percent: 0 };
    for (const n of [MAX_STEPS, MAX_STEPS + 1]) {
      const input = { ...base, schedule: Array.from({ length: n }, (_, i) => step(i)), rules: Array.from({ length: n }, () => rule) };
      assertAgree(RolloutConfigSchema, RolloutConfigShape, fc.constant(input), 1);
    }
    expect(MAX_RULES).toBe(MAX_STEPS);
  });
});
