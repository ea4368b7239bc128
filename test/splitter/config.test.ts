import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseConfig, type RolloutConfigInput } from "../../workers/splitter/model.ts";
import { cfg } from "./helpers.ts";

const issuesOf = (input: unknown) => {
  const r = parseConfig(input);
  if (r.ok) throw new Error(`expected a refusal, got ${JSON.stringify(r.config)}`);
  return r.issues.join("\n");
};

describe("rollout config schema", () => {
  it("accepts the minimal config and fills every default", () => {
    const r = parseConfig(cfg());
    expect(r).toEqual({
      ok: true,
      config: {
        version: 1,
        live: "blue",
        origins: { blue: "https://blue.test", green: "https://green.test" },
        percent: 10,
        salt: "edgekv",
        sticky: { by: "cookie", cookie: "edgekv_id", maxAgeSeconds: 2_592_000 },
        overrides: { cookie: "edgekv_override", header: "x-edgekv-override" },
        failover: false,
        timeoutMs: 10_000,
      },
    });
  });

  it("accepts a full config (schedule, every rule kind, header stickiness)", () => {
    const r = parseConfig(
      cfg({
        sticky: { by: "header", header: "x-user-id" },
        schedule: [
          { at: "2026-11-20T10:00:00Z", percent: 10 },
          { at: "2026-11-20T11:10:00+01:00", percent: 20.5 },
        ],
        rules: [
          { match: { path: "/api/*", method: ["POST"] }, to: "blue" },
          { match: { header: { name: "x-beta", value: "1" } }, to: "green" },
          { match: { cookie: { name: "beta" } }, percent: 50 },
          { match: { country: ["CH"], colo: ["ZRH"] }, percent: 0.01 },
        ],
        failover: true,
        timeoutMs: 2500,
      }),
    );
    expect(r.ok ? [] : r.issues).toEqual([]);
  });

  it.each<[string, unknown, string]>([
    ["percent 150", cfg({ percent: 150 }), "percent:"],
    ["percent -1", cfg({ percent: -1 }), "percent:"],
    ["percent with three decimals", cfg({ percent: 10.001 }), "percent: must have at most two decimals"],
    ["percent as a string", { ...cfg(), percent: "10" }, "percent:"],
    ["percent missing", { version: 1, live: "blue", origins: { blue: "https://a.test", green: "https://b.test" } }, "percent:"],
    ["unknown colour", { ...cfg(), live: "red" }, 'live: must be "blue" or "green"'],
    ["relative URL", cfg({ origins: { blue: "/x", green: "https://g.test" } }), "origins.blue: must be an absolute http(s) URL"],
    ["ftp URL", cfg({ origins: { blue: "https://b.test", green: "ftp://g.test" } }), "origins.green:"],
    ["same origins", cfg({ origins: { blue: "https://b.test", green: "https://b.test" } }), "must differ"],
    ["a typo'd field", { ...cfg(), precent: 50 }, "precent"],
    ["version 0", cfg({ version: 0 }), "version: must be at least 1"],
    ["rule with both to and percent", cfg({ rules: [{ match: { path: "/x" }, to: "green", percent: 5 }] }), "rules.0: needs exactly one of to or percent"],
    ["rule without conditions", cfg({ rules: [{ match: {}, to: "green" }] }), "rules.0.match: needs at least one condition"],
    ["rule to an unknown colour", { ...cfg(), rules: [{ match: { path: "/x" }, to: "red" }] }, "rules.0.to:"],
    ["lower-case country", cfg({ rules: [{ match: { country: ["ch"] }, to: "green" }] }), "rules.0.match.country.0:"],
    [
      "schedule out of order",
      cfg({
        schedule: [
          { at: "2026-11-20T10:10:00Z", percent: 20 },
          { at: "2026-11-20T10:00:00Z", percent: 10 },
        ],
      }),
      "schedule: steps must be in strictly increasing",
    ],
    ["schedule time without zone", cfg({ schedule: [{ at: "2026-11-20T10:00:00", percent: 10 }] }), "schedule.0.at:"],
    ["schedule step at 101%", cfg({ schedule: [{ at: "2026-11-20T10:00:00Z", percent: 101 }] }), "schedule.0.percent:"],
    ["header stickiness without a header", cfg({ sticky: { by: "header" } }), "sticky.header is required"],
    ["timeout below 100 ms", cfg({ timeoutMs: 5 }), "timeoutMs:"],
  ])("refuses %s, naming the field", (_name, input, expected) => {
    expect(issuesOf(input)).toContain(expected);
  });

  it("refuses anything that is not an object", () => {
    for (const junk of [null, 42, "x", [], true]) expect(parseConfig(junk).ok).toBe(false);
  });
});

// ------------------------------------------------------------- properties

const colorArb = fc.constantFrom("blue" as const, "green" as const);
const percentArb = fc.integer({ min: 0, max: 10_000 }).map((n) => n / 100);
const validArb: fc.Arbitrary<RolloutConfigInput> = fc.record({
  version: fc.integer({ min: 1, max: 1e9 }),
  live: colorArb,
  origins: fc.record({
    blue: fc.constantFrom("https://blue.test", "http://127.0.0.1:8001", "https://b.example.com/app"),
    green: fc.constantFrom("https://green.test", "http://127.0.0.1:8002", "https://g.example.com/app"),
  }),
  percent: percentArb,
  salt: fc.string({ minLength: 1, maxLength: 64 }),
  failover: fc.boolean(),
});

describe("rollout config parser (properties)", () => {
  it("accepts every valid config, and a JSON round trip parses to the same config", () => {
    fc.assert(
      fc.property(validArb, (input) => {
        const r = parseConfig(input);
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.config.percent).toBe(input.percent);
        expect(parseConfig(JSON.parse(JSON.stringify(r.config)))).toEqual(r);
      }),
    );
  });

  it("refuses any percent outside 0..100 or with more than two decimals", () => {
    const bad = fc.oneof(
      fc.double({ noNaN: false }).filter((n) => !(n >= 0 && n <= 100) || Math.abs(n * 100 - Math.round(n * 100)) > 1e-6),
      fc.integer({ min: 101, max: 1e6 }),
      fc.integer({ min: -1e6, max: -1 }),
    );
    fc.assert(
      fc.property(validArb, bad, (input, percent) => {
        expect(issuesOf({ ...input, percent })).toContain("percent:");
      }),
    );
  });

  it("never reads bad input as 0%: whatever parses keeps the percent it was given", () => {
    fc.assert(
      fc.property(validArb, fc.anything(), fc.constantFrom("percent", "live", "origins", "version", "schedule", "rules"), (input, junk, field) => {
        const r = parseConfig({ ...input, [field]: junk });
        if (r.ok) expect(r.config.percent).toBe(field === "percent" ? junk : input.percent);
      }),
    );
  });
});
