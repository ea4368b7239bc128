/**
 * The rollout config's one schema (workers/splitter/model.ts), read by the Worker and
 * written by the CLI: generated valid configs pass with their defaults filled, and each
 * invalid field is refused with a message that names it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HistoryEntrySchema, MAX_MIRROR_STRIP, MAX_RULES, MAX_STEPS, parseConfig, RolloutConfigSchema } from "../../workers/splitter/model.ts";

const token = fc.constantFrom("edgekv_id", "x-test", "a");
const time = (i: number) => new Date(Date.UTC(2026, 10, 20, 0, i)).toISOString();
const percent = fc.integer({ min: 0, max: 10_000 }).map((n) => n / 100);
const pair = fc.record({ name: token, value: fc.string({ maxLength: 3 }) }, { requiredKeys: ["name"] });
const match = fc
  .record(
    {
      path: fc.constantFrom("/api/*", "*", "/x"),
      method: fc.array(fc.constantFrom("GET", "POST"), { minLength: 1, maxLength: 2 }),
      header: pair,
      cookie: pair,
      country: fc.array(fc.constantFrom("DE", "US"), { minLength: 1, maxLength: 2 }),
      colo: fc.array(fc.constantFrom("FRA", "LHR"), { minLength: 1, maxLength: 2 }),
    },
    { requiredKeys: [] },
  )
  .filter((m) => Object.keys(m).length > 0);
const rule = fc.oneof(
  fc.record({ name: fc.string({ maxLength: 3 }), match, to: fc.constantFrom("blue" as const, "green" as const) }, { requiredKeys: ["match", "to"] }),
  fc.record({ name: fc.string({ maxLength: 3 }), match, percent }, { requiredKeys: ["match", "percent"] }),
);
const valid = fc.record(
  {
    version: fc.integer({ min: 1, max: 1e9 }),
    live: fc.constantFrom("blue" as const, "green" as const),
    origins: fc.constant({ blue: "https://blue.test", green: "http://127.0.0.1:8002/app" }),
    percent,
    salt: fc.string({ minLength: 1, maxLength: 64 }),
    sticky: fc.record(
      { by: fc.constantFrom("cookie" as const, "ip" as const), cookie: token, maxAgeSeconds: fc.integer({ min: 60, max: 34_560_000 }) },
      { requiredKeys: [] },
    ),
    schedule: fc.array(percent, { maxLength: 3 }).map((ps) => ps.map((p, i) => ({ at: time(i), percent: p }))),
    rules: fc.array(rule, { maxLength: 3 }),
    overrides: fc.record({ cookie: token, header: token }, { requiredKeys: [] }),
    failover: fc.boolean(),
    timeoutMs: fc.integer({ min: 100, max: 120_000 }),
    updatedAt: fc.string({ maxLength: 3 }),
    updatedBy: fc.string({ maxLength: 3 }),
  },
  { requiredKeys: ["version", "live", "origins", "percent"] },
);

/** One invalid value per field, and the path its message must start with. */
const invalid: [path: string, change: Record<string, unknown>][] = [
  ["version", { version: 1.5 }],
  ["live", { live: "red" }],
  ["origins.green", { origins: { blue: "https://b.test", green: "ftp://g.test" } }],
  ["percent", { percent: 100.01 }],
  ["salt", { salt: "" }],
  ["sticky.maxAgeSeconds", { sticky: { maxAgeSeconds: 59 } }],
  ["sticky.by", { sticky: { by: "user" } }],
  ["schedule.0.at", { schedule: [{ at: "2026-11-20 12:00", percent: 1 }] }],
  ["rules.0.match.method.0", { rules: [{ match: { method: ["get"] }, to: "green" }] }],
  ["overrides.header", { overrides: { header: "a b" } }],
  ["failover", { failover: "yes" }],
  ["timeoutMs", { timeoutMs: 120_001 }],
  ["updatedBy", { updatedBy: "x".repeat(129) }],
  ["mirror.forwardCredentials", { mirror: { percent: 1, forwardCredentials: "true" } }],
  ["mirror.stripHeaders.0", { mirror: { percent: 1, stripHeaders: ["x-session token"] } }],
  ["mirror.stripHeaders.0", { mirror: { percent: 1, stripHeaders: [""] } }],
  ["mirror.stripHeaders", { mirror: { percent: 1, stripHeaders: "x-api-key" } }],
];

describe("RolloutConfigSchema, the one schema of the rollout config", () => {
  it("accepts every generated valid config, fills the defaults, and a JSON round trip parses to the same", () => {
    fc.assert(
      fc.property(valid, (input) => {
        const r = parseConfig(input);
        expect(r.ok ? [] : r.issues).toEqual([]);
        if (!r.ok) return;
        expect(r.config.percent).toBe(input.percent);
        expect(r.config.sticky.cookie).toBe(input.sticky?.cookie ?? "edgekv_id");
        expect(r.config.timeoutMs).toBe(input.timeoutMs ?? 10_000);
        expect(parseConfig(JSON.parse(JSON.stringify(r.config)))).toEqual(r);
      }),
      { numRuns: 300 },
    );
  });

  it.each(invalid)("refuses an invalid %s in any valid config, naming the field", (path, change) => {
    fc.assert(
      fc.property(valid, (input) => {
        const r = parseConfig({ ...input, ...change });
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.issues[0]).toMatch(new RegExp(`^${path.replace(/\./g, "\\.")}: \\S`));
      }),
      { numRuns: 50 },
    );
  });

  it("reports every field that fails, as the CLI always did", () => {
    const bad = { version: 0, live: "red", origins: { blue: "/x", green: "https://g.test" }, percent: 101 };
    expect(parseConfig(bad)).toEqual({
      ok: false,
      issues: [
        "version: must be at least 1",
        'live: must be "blue" or "green"',
        "origins.blue: must be an absolute http(s) URL without query, fragment or credentials",
        "percent: must be at most 100",
      ],
    });
  });

  it("refuses unknown keys at every level, naming them", () => {
    const base = { version: 1, live: "blue", origins: { blue: "https://b.test", green: "https://g.test" }, percent: 0 };
    expect(parseConfig({ ...base, precent: 5 })).toEqual({ ok: false, issues: ["precent: unknown key"] });
    expect(parseConfig({ ...base, sticky: { bye: "ip" } })).toEqual({ ok: false, issues: ["sticky.bye: unknown key"] });
  });

  it("at the length bounds of schedule and rules", () => {
    const rule = { match: { path: "/a" }, to: "green" };
    const base = { version: 1, live: "blue", origins: { blue: "https://b.test", green: "https://g.test" }, percent: 0 };
    const of = (n: number) => ({
      ...base,
      schedule: Array.from({ length: n }, (_, i) => ({ at: time(i), percent: 1 })),
      rules: Array.from({ length: n }, () => rule),
    });
    expect(parseConfig(of(MAX_STEPS)).ok).toBe(true);
    expect(parseConfig(of(MAX_STEPS + 1))).toEqual({
      ok: false,
      issues: [`schedule: must have at most ${MAX_STEPS} steps`, `rules: must have at most ${MAX_RULES} rules`],
    });
    expect(parseConfig({ ...base, rules: Array.from({ length: MAX_RULES + 1 }, () => rule) })).toEqual({
      ok: false,
      issues: [`rules: must have at most ${MAX_RULES} rules`],
    });
  });

  it("a document of any number of invalid items is refused with every issue, never a crash", () => {
    const base = { version: 1, live: "blue", origins: { blue: "https://b.test", green: "https://g.test" }, percent: 0 };
    for (const n of [70_000, 200_000]) {
      const r = parseConfig({ ...base, rules: Array.from({ length: n }, () => ({ match: {}, to: "red" })) });
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.issues).toHaveLength(2 * n);
        expect(r.issues.slice(0, 2)).toEqual(["rules.0.match: needs at least one condition", 'rules.0.to: must be "blue" or "green"']);
      }
    }
  });

  it("mirror: forwardCredentials defaults to false; stripHeaders are header names, at most MAX_MIRROR_STRIP", () => {
    const base = { version: 1, live: "blue", origins: { blue: "https://b.test", green: "https://g.test" }, percent: 0 };
    const m = (mirror: Record<string, unknown>) => parseConfig({ ...base, mirror });
    expect(m({ percent: 5 })).toMatchObject({ ok: true, config: { mirror: { percent: 5, forwardCredentials: false } } });
    const names = Array.from({ length: MAX_MIRROR_STRIP }, (_, i) => `x-h${i}`);
    expect(m({ percent: 5, stripHeaders: names, forwardCredentials: true }).ok).toBe(true);
    expect(m({ percent: 5, stripHeaders: [...names, "x-one-more"] })).toEqual({
      ok: false,
      issues: [`mirror.stripHeaders: must have at most ${MAX_MIRROR_STRIP} names`],
    });
    expect(m({ percent: 5, stripheaders: ["x-a"] })).toEqual({ ok: false, issues: ["mirror.stripheaders: unknown key"] });
  });

  it("is a Standard Schema, and history entries nest it", () => {
    const config = { version: 2, live: "blue", origins: { blue: "https://b.test", green: "https://g.test" }, percent: 5 };
    expect(RolloutConfigSchema["~standard"].vendor).toBe("edgekv");
    const entry = { version: 2, at: time(0), by: "me", action: "set 5%", changes: [], config };
    const ok = HistoryEntrySchema["~standard"].validate(entry);
    expect("value" in ok && ok.value.config.salt).toBe("edgekv");
    const bad = HistoryEntrySchema["~standard"].validate({ ...entry, config: { ...config, percent: 101 } });
    expect("issues" in bad && bad.issues?.[0]).toMatchObject({ message: "must be at most 100", path: ["config", "percent"] });
  });
});
