/**
 * Issue 25, the splitter's side: one Analytics Engine point per routed request, through
 * handle() with real local KV. The dataset is the real local binding (Miniflare's, which
 * drops points) wrapped to record each call first.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { CONFIG_KEY, type RolloutConfigInput } from "../../workers/splitter/model.ts";
import type { SplitterEnv } from "../../workers/splitter/env.ts";
import { handle, type Deps } from "../../workers/splitter/handler.ts";
import { ConfigSource } from "../../workers/splitter/store.ts";
import { GREEN, cfg, origins } from "./helpers.ts";

type Point = AnalyticsEngineDataPoint;

/** The real binding, every call recorded first; `fail` makes it throw as a broken binding would. */
function recording(fail = false) {
  const real = env.ROLLOUT_METRICS as AnalyticsEngineDataset;
  const points: Point[] = [];
  const ds: AnalyticsEngineDataset = {
    writeDataPoint(p) {
      if (fail) throw new Error("writeDataPoint: limit exceeded");
      points.push(structuredClone(p ?? {}));
      real.writeDataPoint(p);
    },
  };
  return { ds, points };
}

function setup(extra: Partial<SplitterEnv>, behave?: Parameters<typeof origins>[0]) {
  const source = new ConfigSource(env.ROLLOUT_KV, { ttlMs: 0 });
  const o = origins(behave);
  const deps: Deps = { env: { ROLLOUT_KV: env.ROLLOUT_KV, ...extra }, source, fetch: o.fetch, now: Date.now };
  const get = (path = "/", init: RequestInit = {}) => handle(new Request(`https://app.test${path}`, init), deps);
  return { ...o, get };
}

const write = (c: RolloutConfigInput) => env.ROLLOUT_KV.put(CONFIG_KEY, JSON.stringify(c));

beforeEach(async () => {
  await env.ROLLOUT_KV.delete(CONFIG_KEY);
});

describe("one Analytics Engine point per routed request", () => {
  it("version as the index; colour, outcome, reason, colo as blobs; latency and weight as doubles", async () => {
    await write(cfg({ version: 7, percent: 100 }));
    const r = recording();
    const t = setup({ ROLLOUT_METRICS: r.ds });
    const res = await t.get("/checkout", { cf: { colo: "AMS" } } as RequestInit);
    expect(res.status).toBe(200);
    expect(r.points).toHaveLength(1);
    const p = r.points[0]!;
    expect(p.indexes).toEqual(["7"]);
    expect(p.blobs).toEqual(["green", "2xx", "bucket", "AMS"]);
    expect(p.doubles).toHaveLength(2);
    expect(p.doubles![0]).toBeGreaterThanOrEqual(0);
    expect(p.doubles![1]).toBe(1);
  });

  it.each([
    ["3xx", () => new Response(null, { status: 302, headers: { location: "/x" } })],
    ["4xx", () => new Response("no", { status: 404 })],
    ["5xx", () => new Response("down", { status: 503 })],
    ["error", () => Promise.reject(new TypeError("connection refused"))],
  ] as const)("classifies the answer as %s", async (outcome, answer) => {
    await write(cfg({ percent: 100 }));
    const r = recording();
    const t = setup({ ROLLOUT_METRICS: r.ds }, (origin) => (origin === GREEN ? answer() : undefined));
    await (await t.get("/")).arrayBuffer();
    expect(r.points.map((p) => p.blobs![1])).toEqual([outcome]);
  });

  it("classifies an origin that does not answer in time as timeout", async () => {
    await write(cfg({ percent: 100, timeoutMs: 100 }));
    const r = recording();
    const t = setup({ ROLLOUT_METRICS: r.ds }, (origin, req) =>
      origin === GREEN ? new Promise<Response>((_, reject) => req.signal.addEventListener("abort", () => reject(new Error("aborted")))) : undefined,
    );
    expect((await t.get("/")).status).toBe(504);
    expect(r.points.map((p) => p.blobs!.slice(0, 2))).toEqual([["green", "timeout"]]);
  });

  it("a failover counts against the colour that failed, and the answer for the one that served it", async () => {
    await write(cfg({ percent: 100, failover: true }));
    const r = recording();
    const t = setup({ ROLLOUT_METRICS: r.ds }, (origin) => (origin === GREEN ? new Response("down", { status: 500 }) : undefined));
    const res = await t.get("/");
    expect(res.headers.get("x-edgekv-color")).toBe("blue");
    expect(r.points.map((p) => p.blobs!.slice(0, 3))).toEqual([
      ["green", "failover", "bucket"],
      ["blue", "2xx", "failover"],
    ]);
  });

  it("without the binding nothing is written and the answer is the same", async () => {
    await write(cfg({ percent: 100 }));
    const t = setup({});
    const res = await t.get("/");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(`hello from ${GREEN}`);
  });

  it("a binding that throws never fails the request", async () => {
    await write(cfg({ percent: 100 }));
    const r = recording(true);
    const res = await setup({ ROLLOUT_METRICS: r.ds }).get("/");
    expect(res.status).toBe(200);
    expect(r.points).toHaveLength(0);
  });

  it("no point while no config was ever read (nothing was routed by colour)", async () => {
    const r = recording();
    expect((await setup({ ROLLOUT_METRICS: r.ds }).get("/")).status).toBe(503);
    expect(r.points).toHaveLength(0);
  });

  it("a colo is at most 8 characters in the point", async () => {
    await write(cfg({ percent: 100 }));
    const r = recording();
    await setup({ ROLLOUT_METRICS: r.ds }).get("/", { cf: { colo: "X".repeat(5000) } } as RequestInit);
    expect(r.points[0]!.blobs![3]).toBe("XXXXXXXX");
  });

  it("METRICS_SAMPLE=10 keeps about one request in ten, each weighted 10", async () => {
    await write(cfg({ percent: 50 }));
    const r = recording();
    const t = setup({ ROLLOUT_METRICS: r.ds, METRICS_SAMPLE: "10" });
    for (let i = 0; i < 1000; i++) await (await t.get(`/p${i}`)).arrayBuffer();
    expect(r.points.length).toBeGreaterThan(50);
    expect(r.points.length).toBeLessThan(150);
    expect(r.points.every((p) => p.doubles![1] === 10)).toBe(true);
  });

  it.each(["0", "-3", "1.5", "abc", "1e9", "Infinity", "NaN", " "])("METRICS_SAMPLE=%j is not a sample rate: every request, weight 1", async (sample) => {
    await write(cfg({ percent: 50 }));
    const r = recording();
    const t = setup({ ROLLOUT_METRICS: r.ds, METRICS_SAMPLE: sample });
    for (let i = 0; i < 20; i++) await (await t.get(`/p${i}`)).arrayBuffer();
    expect(r.points).toHaveLength(20);
    expect(r.points.every((p) => p.doubles![1] === 1)).toBe(true);
  });
});
