/**
 * Issue 25, the control Worker's side, in workerd with real local KV: guard.metrics in the
 * schema (every field that reaches the SQL text), one tick's look at real traffic through the
 * Analytics Engine SQL API stand-in (scripts/ae-sql.ts), the trip through the same one write
 * as a probe trip, and hostile or broken API answers, which hold and never trip.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { AeStandin } from "../../scripts/ae-sql.ts";
import { metricsSql, lookOf, parseAnswer } from "../../workers/control/metrics.ts";
import { tick } from "../../workers/control/scheduled.ts";
import { CONFIG_KEY, parseConfig, type GuardInput, type RolloutConfigInput } from "../../workers/splitter/model.ts";
import { GREEN, cfg, origins } from "../splitter/helpers.ts";

const T0 = Date.parse("2026-11-20T10:00:00Z");
const MIN = 60_000;
const ACCOUNT = "0123456789abcdef0123456789abcdef";
const TOKEN = "ae-read-token-for-tests-0123456789abcdef";
const API = "https://api.test/client/v4";
const DATASET = "edgekv_rollout";

const guard = (metrics: GuardInput["metrics"] = {}): GuardInput => ({
  probes: [{ path: "/health" }],
  action: "pause",
  intervalMs: 0,
  threshold: { failures: 1 },
  metrics,
});
const config = (over: Partial<RolloutConfigInput> = {}) => cfg({ version: 3, percent: 20, updatedAt: new Date(T0).toISOString(), guard: guard(), ...over });

/** `n` points of one colour: `errors` of them 5xx, latency `ms`, weight `weight`. */
function points(ae: AeStandin, color: "blue" | "green", n: number, errors: number, ms = 50, weight = 1, version = 3) {
  for (let i = 0; i < n; i++) {
    ae.write(DATASET, { indexes: [String(version)], blobs: [color, i < errors ? "5xx" : "2xx", "bucket", "AMS"], doubles: [ms, weight] });
  }
}

/** The real KV with writes counted; probes answer 200; the API host is the stand-in (or `api`). */
function world(api?: (r: Request) => Promise<Response>, vars: Record<string, string> = {}) {
  const ae = new AeStandin(ACCOUNT, TOKEN, 1, () => T0 + 2 * MIN);
  const sent: Request[] = [];
  const o = origins();
  const fetch = async (req: Request) => {
    if (new URL(req.url).host !== "api.test") return o.fetch(req);
    sent.push(req.clone());
    return api ? api(req) : ae.fetch(req);
  };
  const writes: string[] = [];
  const kv = new Proxy(env.ROLLOUT_KV, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        if (prop === "put" || prop === "delete") writes.push(String(args[0]));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const logs: string[] = [];
  const vs = { CLOUDFLARE_ACCOUNT_ID: ACCOUNT, ANALYTICS_API_TOKEN: TOKEN, CLOUDFLARE_API_BASE_URL: API, ...vars };
  const run = (at = T0 + 2 * MIN) => tick({ env: { ROLLOUT_KV: kv, ...vs }, fetch, now: at, sleep: async () => {}, log: (l) => logs.push(l) });
  return { ae, sent, writes, logs, run, seen: o.seen };
}

const write = (c: RolloutConfigInput) => env.ROLLOUT_KV.put(CONFIG_KEY, JSON.stringify(c));
const stored = async () => (await env.ROLLOUT_KV.get(CONFIG_KEY, "json")) as { version: number; guard: { trip?: { reason: string } } };

beforeEach(async () => {
  for (const k of (await env.ROLLOUT_KV.list()).keys) await env.ROLLOUT_KV.delete(k.name);
});

describe("guard.metrics in the one config schema", () => {
  it("fills the defaults", () => {
    const r = parseConfig(config());
    expect(r.ok && r.config.guard?.metrics).toEqual({ dataset: DATASET, windowMinutes: 10, minRequests: 200, maxErrorDiff: 1, maxLatencyRatio: 1.5 });
  });

  it.each<[string, unknown, string]>([
    ["SQL in the dataset", { dataset: "edgekv_rollout WHERE 1=1 --" }, "guard.metrics.dataset:"],
    ["a quote in the dataset", { dataset: "x' OR '1'='1" }, "guard.metrics.dataset:"],
    ["a semicolon in the dataset", { dataset: "x;DROP" }, "guard.metrics.dataset:"],
    ["a dotted dataset", { dataset: "system.tables" }, "guard.metrics.dataset:"],
    ["an empty dataset", { dataset: "" }, "guard.metrics.dataset:"],
    ["a dataset of 65 characters", { dataset: "a".repeat(65) }, "guard.metrics.dataset:"],
    ["a non-ASCII dataset", { dataset: "dаtaset" }, "guard.metrics.dataset:"],
    ["SQL in the window", { windowMinutes: "10' MINUTE OR 1=1 --" }, "guard.metrics.windowMinutes: must be a number"],
    ["a fractional window", { windowMinutes: 1.5 }, "guard.metrics.windowMinutes: must be a whole number"],
    ["a window of 0", { windowMinutes: 0 }, "guard.metrics.windowMinutes: must be at least 1"],
    ["a window over an hour", { windowMinutes: 61 }, "guard.metrics.windowMinutes: must be at most 60"],
    ["a minimum below 50", { minRequests: 1 }, "guard.metrics.minRequests: must be at least 50"],
    ["a string minimum", { minRequests: "200" }, "guard.metrics.minRequests: must be a number"],
    ["a negative error tolerance", { maxErrorDiff: -1 }, "guard.metrics.maxErrorDiff:"],
    ["an error tolerance over 50 points", { maxErrorDiff: 75 }, "guard.metrics.maxErrorDiff: must be at most 50"],
    ["a latency ratio of 1", { maxLatencyRatio: 1 }, "guard.metrics.maxLatencyRatio: must be at least 1.05"],
    ["a latency ratio over 100", { maxLatencyRatio: 101 }, "guard.metrics.maxLatencyRatio: must be at most 100"],
    ["an infinite latency ratio", { maxLatencyRatio: Number.POSITIVE_INFINITY }, "guard.metrics.maxLatencyRatio: must be at most 100"],
    ["a NaN latency ratio", { maxLatencyRatio: Number.NaN }, "guard.metrics.maxLatencyRatio: must be a number"],
    ["an unknown field", { query: "SELECT 1" }, "guard.metrics.query: unknown key"],
  ])("refuses %s, naming the field", (_name, metrics, message) => {
    const r = parseConfig({ ...config(), guard: { ...guard(), metrics } });
    expect(r.ok ? [] : r.issues.join("\n")).toContain(message);
  });

  it("the query holds only checked numbers and the checked name, and multiplies by the weight and _sample_interval", () => {
    const sql = metricsSql({ dataset: DATASET, windowMinutes: 10 }, 12);
    expect(sql).toContain("SUM(_sample_interval * double2) AS requests");
    expect(sql).toContain("FROM edgekv_rollout WHERE index1 = '12' AND timestamp > NOW() - INTERVAL '10' MINUTE");
    for (const bad of ["x' OR '1'='1", "a b", "t;--", ""]) expect(() => metricsSql({ dataset: bad, windowMinutes: 10 }, 1)).toThrow();
    expect(() => metricsSql({ dataset: DATASET, windowMinutes: 10 }, 1.5)).toThrow();
    expect(() => metricsSql({ dataset: DATASET, windowMinutes: 1e9 }, 1)).toThrow();
  });

  it("counts looks from the version's write; a missing or bad time is the most cautious look", () => {
    expect(lookOf({ updatedAt: new Date(T0).toISOString() }, T0 + 30_000)).toBe(1);
    expect(lookOf({ updatedAt: new Date(T0).toISOString() }, T0 + 2 * MIN)).toBe(3);
    expect(lookOf({ updatedAt: new Date(T0 + MIN).toISOString() }, T0)).toBe(1);
    expect(lookOf({}, T0)).toBe(1_000_000);
    expect(lookOf({ updatedAt: "yesterday" }, T0)).toBe(1_000_000);
  });
});

describe("one tick's look at real traffic", () => {
  it("a healthy green: the verdict is pass and nothing is written", async () => {
    await write(config());
    const w = world();
    points(w.ae, "blue", 2000, 10);
    points(w.ae, "green", 500, 3);
    const r = await w.run();
    expect(r.tripped).toBeNull();
    expect(r.metrics?.verdict.action).toBe("pass");
    expect(r.metrics?.green).toEqual({ requests: 500, errors: 3, p95: 50, samples: 500 });
    expect(w.writes).toEqual([]);
    // One query, with the token in the Authorization header only.
    expect(w.sent).toHaveLength(1);
    expect(w.sent[0]!.url).toBe(`${API}/accounts/${ACCOUNT}/analytics_engine/sql`);
    expect(w.sent[0]!.url).not.toContain(TOKEN);
    expect(w.sent[0]!.headers.get("authorization")).toBe(`Bearer ${TOKEN}`);
    expect(w.logs.join("\n")).not.toContain(TOKEN);
  });

  it("green failing on real traffic while its probe passes: one write, the same trip as a probe's, the numbers in the reason", async () => {
    await write(config());
    const w = world();
    points(w.ae, "blue", 19_310, 174, 388);
    points(w.ae, "green", 2140, 103, 412);
    const r = await w.run();
    expect(r.tripped).toBe("traffic: green 5xx 4.8% vs blue 0.9% over 2,140 / 19,310 requests; p95 412 vs 388 ms");
    const s = await stored();
    expect(s.version).toBe(4);
    expect(s.guard.trip?.reason).toBe(r.tripped);
    expect(w.writes.filter((k) => k === CONFIG_KEY)).toHaveLength(1);
    expect(w.seen.some((x) => x.url === `${GREEN}/health`)).toBe(true);
    // Tripped: the next tick neither queries nor writes.
    const before = w.sent.length;
    w.writes.length = 0;
    await w.run(T0 + 3 * MIN);
    expect(w.writes).toEqual([]);
    expect(w.sent.length).toBe(before);
  });

  it("a traffic trip sends one signed webhook, as a probe trip does", async () => {
    await write(config());
    const secret = `whsec_${btoa(String.fromCharCode(...new Uint8Array(32).map((_, i) => i * 5 + 3)))}`;
    const w = world(undefined, { WEBHOOK_URLS: "https://hooks.test/edgekv", WEBHOOK_SECRET: secret });
    points(w.ae, "blue", 5000, 50);
    points(w.ae, "green", 1000, 100);
    await w.run();
    await w.run(T0 + 3 * MIN);
    const hooks = w.seen.filter((x) => x.url.startsWith("https://hooks.test/"));
    expect(hooks).toHaveLength(1);
    const event = JSON.parse(hooks[0]!.body) as { type: string; text: string; data: { guard: string; trip: { reason: string } } };
    expect(event).toMatchObject({ type: "rollout.guard_tripped", data: { guard: "paused" } });
    expect(event.data.trip.reason).toBe("traffic: green 5xx 10.0% vs blue 1.0% over 1,000 / 5,000 requests; p95 50 vs 50 ms");
    expect(hooks[0]!.headers["webhook-signature"]).toMatch(/^v1,/);
  });

  it("the weights multiply: 100 points of weight 10, one in 2 kept by Analytics Engine, are 1,000 requests from 50 samples", async () => {
    await write(config());
    const w = world();
    w.ae.sampleInterval = 2;
    points(w.ae, "blue", 1000, 0, 50, 10);
    points(w.ae, "green", 100, 0, 50, 10);
    const r = await w.run();
    expect(r.metrics?.blue).toMatchObject({ requests: 10_000, samples: 500 });
    expect(r.metrics?.green).toMatchObject({ requests: 1000, samples: 50 });
    // 50 points are below the minimum of 200, whatever they stand for.
    expect(r.metrics?.verdict.action).toBe("hold");
  });

  it("below the minimum count: hold (inconclusive), however bad green looks", async () => {
    await write(config());
    const w = world();
    points(w.ae, "blue", 5000, 0);
    points(w.ae, "green", 199, 199, 5000);
    const r = await w.run();
    expect(r.metrics?.verdict.action).toBe("hold");
    expect(r.tripped).toBeNull();
    expect(w.writes).toEqual([]);
  });

  it("another version's points are not this version's", async () => {
    await write(config());
    const w = world();
    points(w.ae, "blue", 5000, 0, 50, 1, 2);
    points(w.ae, "green", 5000, 5000, 50, 1, 2);
    const r = await w.run();
    expect(r.metrics?.green.requests).toBe(0);
    expect(r.tripped).toBeNull();
  });

  it("without the account id or the token: probes only, nothing sent", async () => {
    await write(config());
    for (const vars of [{ ANALYTICS_API_TOKEN: "" }, { CLOUDFLARE_ACCOUNT_ID: "" }] as Record<string, string>[]) {
      const w = world(undefined, vars);
      const r = await w.run();
      expect(r.metrics).toBeNull();
      expect(w.sent).toHaveLength(0);
    }
  });

  it.each([
    ["a plain-http API base to another host", { CLOUDFLARE_API_BASE_URL: "http://api.test/client/v4" }],
    ["an API base with credentials", { CLOUDFLARE_API_BASE_URL: "https://u:p@api.test/client/v4" }],
    ["an API base with a query", { CLOUDFLARE_API_BASE_URL: "https://api.test/client/v4?x=1" }],
    ["an account id that is a path", { CLOUDFLARE_ACCOUNT_ID: "../../zones/0123456789abcdef01234567" }],
  ])("%s: hold, and the token is never sent", async (_name, vars) => {
    await write(config());
    const w = world(undefined, vars);
    const r = await w.run();
    expect(r.metrics?.verdict.action).toBe("hold");
    expect(w.sent).toHaveLength(0);
    expect(w.writes).toEqual([]);
  });
});

const json =
  (body: unknown, status = 200) =>
  async () =>
    new Response(typeof body === "string" ? body : JSON.stringify(body), { status });
const row = (color: string, requests: unknown, errors: unknown, p95: unknown = 50, points: unknown = requests) => ({ color, requests, errors, p95, points });
const bad = [row("blue", 10_000, 0), row("green", 1000, 1000, 9999)];

describe("a hostile or broken analytics answer holds: never a trip, never a crash", () => {
  it.each<[string, () => Promise<Response>]>([
    ["not JSON (quoting the body in the reason would echo it)", json("<html>green is on fire</html>")],
    ["JSON without data", json({ meta: [], rows: 0 })],
    ["data that is not an array", json({ data: { color: "green" } })],
    ["three rows", json({ data: [...bad, row("green", 1, 1)] })],
    ["a colour twice", json({ data: [row("green", 1000, 0), row("green", 1000, 1000)] })],
    ["an unknown colour", json({ data: [row("blue", 1000, 0), row("red", 1000, 1000)] })],
    ["NaN as a string", json({ data: [row("blue", "NaN", 0), row("green", 1000, 1000)] })],
    [
      "a number beyond float range",
      json('{"data":[{"color":"blue","requests":1e400,"errors":0,"p95":1},{"color":"green","requests":1000,"errors":1000,"p95":1}]}'),
    ],
    ["a count of 10^15", json({ data: [row("blue", 1e15, 0), row("green", 1e15, 1e15)] })],
    ["negative counts", json({ data: [row("blue", 10_000, -50), row("green", 1000, 1000)] })],
    ["more errors than requests", json({ data: [row("blue", 10_000, 0), row("green", 1000, 1001)] })],
    ["objects as numbers", json({ data: [row("blue", { valueOf: 1 }, 0), row("green", [1000], [1000])] })],
    ["a hex string", json({ data: [row("blue", "0x2710", 0), row("green", "0x3e8", "0x3e8")] })],
    ["a negative p95", json({ data: [row("blue", 10_000, 0, -1), row("green", 1000, 0, 1e9)] })],
    ["no point count", json({ data: [row("blue", 10_000, 0, 50, null), row("green", 1000, 1000, 50, null)] })],
    ["more points than requests", json({ data: [row("blue", 10_000, 0, 50, 20_000), row("green", 1000, 1000, 50, 5000)] })],
    ["an HTTP 500", json({ data: bad }, 500)],
    ["an HTTP 401", json({ success: false, errors: [{ code: 10000, message: "Authentication error" }] }, 401)],
    ["a redirect", async () => new Response(null, { status: 302, headers: { location: "https://evil.test/" } })],
    ["an answer of 1 MiB", json(`{"data":[${" ".repeat(1 << 20)}]}`)],
    ["a connection error", async () => Promise.reject(new TypeError("Network connection lost."))],
    ["control characters", json({ data: [row("blue\u001b[2J", 1, 0)] })],
  ])("%s", async (_name, api) => {
    await write(config());
    const w = world(api);
    const r = await w.run();
    expect(r.metrics?.verdict.action).toBe("hold");
    expect(r.metrics?.verdict.reason).toMatch(/^inconclusive: metrics unavailable \([\x20-\x7e]*\)$/);
    expect(r.metrics?.verdict.reason).not.toContain("fire");
    expect(r.tripped).toBeNull();
    expect(w.writes).toEqual([]);
  });

  it("numbers quoted as ClickHouse quotes 64-bit integers are read", () => {
    expect(parseAnswer(JSON.stringify({ data: [row("blue", "10000", "3", "12.5", "1000")] })).blue).toEqual({
      requests: 10_000,
      errors: 3,
      p95: 12.5,
      samples: 1000,
    });
    const none = { requests: 0, errors: 0, p95: null, samples: 0 };
    expect(parseAnswer(JSON.stringify({ data: [] }))).toEqual({ blue: none, green: none });
  });
});
