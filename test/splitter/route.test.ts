import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bucketOf, inCanary } from "../../workers/splitter/bucket.ts";
import { parseConfig, type RolloutConfig, type RolloutConfigInput } from "../../workers/splitter/model.ts";
import { readOverride, signOverride } from "../../workers/splitter/override.ts";
import { decide, type RouteInput } from "../../workers/splitter/route.ts";
import { effectivePercent } from "../../workers/splitter/schedule.ts";
import { cfg } from "./helpers.ts";

function config(over: Partial<RolloutConfigInput> = {}): RolloutConfig {
  const r = parseConfig(cfg(over));
  if (!r.ok) throw new Error(r.issues.join("; "));
  return r.config;
}

const T0 = Date.parse("2026-11-20T10:00:00Z");
const MIN = 60_000;

function input(over: Partial<RouteInput> = {}): RouteInput {
  return { method: "GET", path: "/", headers: new Headers(), id: "user-1", override: null, now: T0, ...over };
}

/** An id whose bucket is in [lo, hi) for the default salt. */
function idInBuckets(lo: number, hi: number): string {
  for (let i = 0; ; i++) {
    const b = bucketOf("edgekv", `id-${i}`);
    if (b >= lo && b < hi) return `id-${i}`;
  }
}

describe("schedule (injected clock)", () => {
  const schedule = [
    { at: "2026-11-20T10:00:00Z", percent: 10 },
    { at: "2026-11-20T10:10:00Z", percent: 20 },
    { at: "2026-11-20T10:30:00Z", percent: 50 },
    { at: "2026-11-20T11:00:00Z", percent: 100 },
  ];
  const c = config({ percent: 0, schedule });

  it.each([
    [-1, 0, -1],
    [0, 10, 0],
    [9.99, 10, 0],
    [10, 20, 1],
    [29, 20, 1],
    [30, 50, 2],
    [60, 100, 3],
    [60 * 24 * 365, 100, 3],
  ])("at T0%+d min the percentage is %d (step %d)", (minutes, percent, step) => {
    const e = effectivePercent(c, T0 + minutes * MIN);
    expect(e.percent).toBe(percent);
    expect(e.step).toBe(step);
  });

  it("reports the next step", () => {
    expect(effectivePercent(c, T0 + 5 * MIN).next).toEqual(schedule[1]);
    expect(effectivePercent(c, T0 + 61 * MIN).next).toBeUndefined();
  });

  it("routes by the step in force and says `schedule`; before the first step it says `bucket`", () => {
    const id = idInBuckets(1500, 2000); // in at 20%, out at 10%
    expect(decide(c, input({ id, now: T0 + 5 * MIN }))).toMatchObject({ color: "blue", reason: "schedule", percent: 10 });
    expect(decide(c, input({ id, now: T0 + 15 * MIN }))).toMatchObject({ color: "green", reason: "schedule", percent: 20 });
    expect(decide(c, input({ id, now: T0 - MIN }))).toMatchObject({ color: "blue", reason: "bucket", percent: 0 });
  });

  it("no user moves back as the schedule ramps up (property)", () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: -10, max: 100 }), fc.integer({ min: 0, max: 100 }), (id, m1, dm) => {
        const a = decide(c, input({ id, now: T0 + m1 * MIN }));
        const b = decide(c, input({ id, now: T0 + (m1 + dm) * MIN }));
        if (a.color === "green") expect(b.color).toBe("green");
      }),
    );
  });
});

describe("bucket routing", () => {
  it("sends the non-live colour buckets [0, percent*100), also when green is live", () => {
    const low = idInBuckets(0, 1000);
    const high = idInBuckets(1000, 10_000);
    expect(decide(config({ percent: 10 }), input({ id: low }))).toMatchObject({ color: "green", reason: "bucket" });
    expect(decide(config({ percent: 10 }), input({ id: high }))).toMatchObject({ color: "blue", reason: "bucket" });
    expect(decide(config({ live: "green", percent: 10 }), input({ id: low })).color).toBe("blue");
    expect(decide(config({ percent: 10 }), input({ id: low })).bucket).toBe(bucketOf("edgekv", low));
  });

  it("a different salt reshuffles users", () => {
    const ids = Array.from({ length: 200 }, (_, i) => `u${i}`);
    const a = ids.map((id) => bucketOf("one", id));
    const b = ids.map((id) => bucketOf("two", id));
    expect(a.filter((x, i) => x !== b[i]).length).toBeGreaterThan(190);
  });
});

describe("rules: first match wins", () => {
  const rules: RolloutConfigInput["rules"] = [
    { name: "api writes stay blue", match: { path: "/api/*", method: ["POST", "PUT"] }, to: "blue" },
    { match: { header: { name: "x-beta", value: "yes" } }, to: "green" },
    { match: { header: { name: "x-any-beta" } }, to: "green" },
    { match: { cookie: { name: "plan", value: "pro" } }, to: "green" },
    { match: { country: ["CH", "LI"] }, to: "green" },
    { match: { colo: ["SJC"] }, percent: 100 },
    { match: { path: "/half/*" }, percent: 50 },
    { match: { path: "/api/*" }, to: "green" },
  ];
  const c = config({ percent: 0, rules });
  const high = idInBuckets(9000, 10_000);

  it.each<[string, Partial<RouteInput>, "blue" | "green"]>([
    ["path + method", { path: "/api/orders", method: "POST", headers: new Headers({ "x-beta": "yes" }) }, "blue"],
    ["header with value", { headers: new Headers({ "x-beta": "yes" }) }, "green"],
    ["header present", { headers: new Headers({ "x-any-beta": "" }) }, "green"],
    ["cookie with value", { headers: new Headers({ cookie: "a=1; plan=pro" }) }, "green"],
    ["country (request.cf)", { cf: { country: "CH" } }, "green"],
    ["colo with its own percentage", { cf: { colo: "SJC" } }, "green"],
    ["later rule when the earlier method does not match", { path: "/api/orders", method: "GET" }, "green"],
  ])("%s", (_name, over, color) => {
    expect(decide(c, input({ id: high, ...over }))).toMatchObject({ color, reason: "rule" });
  });

  it.each<[string, Partial<RouteInput>]>([
    ["header with another value", { headers: new Headers({ "x-beta": "no" }) }],
    ["cookie with another value", { headers: new Headers({ cookie: "plan=free" }) }],
    ["another country", { cf: { country: "DE" } }],
    ["no request.cf", { cf: undefined }],
    ["path that does not match", { path: "/apix" }],
  ])("no rule: %s falls to the bucket (0%% -> live)", (_name, over) => {
    expect(decide(c, input({ id: high, ...over }))).toMatchObject({ color: "blue", reason: "bucket" });
  });

  it("a rule's own percentage uses the same buckets", () => {
    const low = idInBuckets(0, 5000);
    expect(decide(c, input({ id: low, path: "/half/x" }))).toMatchObject({ color: "green", reason: "rule", percent: 50 });
    expect(decide(c, input({ id: high, path: "/half/x" }))).toMatchObject({ color: "blue", reason: "rule", percent: 50 });
  });

  it("an override beats every rule", () => {
    expect(decide(c, input({ path: "/api/x", method: "POST", override: "green" }))).toMatchObject({ color: "green", reason: "override" });
  });
});

describe("tester overrides", () => {
  const names = config().overrides;
  const SECRET = "override-secret-for-route-tests-0123456789"; // >= MIN_SECRET_BYTES
  const now = T0;
  const exp = Math.floor(now / 1000) + 3600;

  it("a signed header or cookie forces its colour", async () => {
    const v = await signOverride(SECRET, "green", exp);
    expect(await readOverride(new Headers({ "x-edgekv-override": v }), names, SECRET, now)).toBe("green");
    expect(await readOverride(new Headers({ cookie: `x=1; edgekv_override=${v}` }), names, SECRET, now)).toBe("green");
    const blue = await signOverride(SECRET, "blue", exp);
    expect(await readOverride(new Headers({ "x-edgekv-override": blue }), names, SECRET, now)).toBe("blue");
  });

  it("ignores unsigned, forged, re-coloured, expired, wrong-secret ones, and all when no secret is set", async () => {
    const v = await signOverride(SECRET, "green", exp);
    const sig = v.split(".")[2]!;
    const cases = [
      "green",
      `green.${exp}`,
      `green.${exp}.${sig.slice(0, -1)}${sig.endsWith("A") ? "B" : "A"}`, // last character changed
      `blue.${exp}.${sig}`,
      `green.${exp + 1}.${sig}`,
      `green.${exp}.${sig}.extra`,
      await signOverride("other-secret", "green", exp),
      await signOverride(SECRET, "green", Math.floor(now / 1000) - 1),
    ];
    for (const raw of cases) expect(await readOverride(new Headers({ "x-edgekv-override": raw }), names, SECRET, now)).toBeNull();
    expect(await readOverride(new Headers({ "x-edgekv-override": v }), names, undefined, now)).toBeNull();
  });

  it("a secret shorter than MIN_SECRET_BYTES verifies nothing, even values it signed itself", async () => {
    const weak = SECRET.slice(0, 31);
    const v = await signOverride(weak, "green", exp);
    expect(await readOverride(new Headers({ "x-edgekv-override": v }), names, weak, now)).toBeNull();
    const ok = SECRET.slice(0, 32);
    expect(await readOverride(new Headers({ "x-edgekv-override": await signOverride(ok, "green", exp) }), names, ok, now)).toBe("green");
  });

  it("forged values never verify (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 60 }), async (sig) => {
        expect(await readOverride(new Headers({ "x-edgekv-override": `green.${exp}.${sig}` }), names, SECRET, now)).toBeNull();
      }),
      { numRuns: 50 },
    );
  });
});

it("inCanary agrees with decide for plain bucket routing (property)", () => {
  fc.assert(
    fc.property(fc.string(), fc.integer({ min: 0, max: 10_000 }), (id, p100) => {
      const c = config({ percent: p100 / 100 });
      expect(decide(c, input({ id })).color === "green").toBe(inCanary(bucketOf("edgekv", id), p100 / 100));
    }),
  );
});
