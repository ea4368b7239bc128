/**
 * Issue 25 end to end: the splitter and control bundles as `wrangler deploy` builds them, in
 * workerd, between two real local origins. Green starts failing on /checkout only while its
 * /health stays 200: the probes see nothing, the guard trips on real traffic. The splitter's
 * Analytics Engine points go through a recording binding (test/node/helpers/ae-recorder.ts)
 * into the SQL API stand-in (scripts/ae-sql.ts, keeping one point in 2 with
 * `_sample_interval` 2), which the control Worker queries through CLOUDFLARE_API_BASE_URL.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAeApi, type AeApi } from "../../../scripts/ae-api.ts";
import { startOrigin, type Origin } from "../../../scripts/origin.ts";
import { bundleWorker, startWorker, type RunningWorker } from "../../../scripts/runtime.ts";
import { CONFIG_KEY, type RolloutConfigInput } from "../../../workers/splitter/model.ts";
import { recorderService, recordingEntry } from "../helpers/ae-recorder.ts";

const STATUS = "st-secret-for-the-metrics-e2e-32-bytes+";
const REQUESTS = 600;

let dir: string;
let blue: Origin;
let green: Origin;
let api: AeApi;
let splitter: RunningWorker;
let control: RunningWorker;
const failing = { checkout: false };

interface KvLike {
  put(key: string, value: string): Promise<void>;
  get(key: string, type: "text"): Promise<string | null>;
  list(): Promise<{ keys: { name: string }[] }>;
}
let kv: KvLike;

const cron = async () => {
  const w = await control.mf.getWorker();
  await w.scheduled({ scheduledTime: new Date(), cron: "* * * * *" });
};
const snapshot = async () => {
  const out: Record<string, string | null> = {};
  for (const k of (await kv.list()).keys) out[k.name] = await kv.get(k.name, "text");
  return out;
};
type Window = { requests: number; errors: number; p95: number | null; errorRate: number | null };
const status = async () =>
  (await (await control.mf.dispatchFetch("http://control.test/__edgekv/status.json", { headers: { authorization: `Bearer ${STATUS}` } })).json()) as {
    guard: { state: string; reason: string | null };
    metrics: { blue: Window; green: Window; verdict: { action: string; reason: string } } | null;
  };

/** Sends `n` requests from distinct visitors, half to /checkout; returns how many each colour answered. */
async function traffic(n: number, round: string) {
  const colors = { blue: 0, green: 0 };
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, (_, j) =>
        splitter.mf.dispatchFetch(`http://app.test/${(i + j) % 2 ? "checkout" : "home"}`, { headers: { cookie: `edgekv_id=v-${round}-${i + j}-abcdef` } }),
      ),
    );
    for (const r of batch) {
      colors[r.headers.get("x-edgekv-color") as "blue" | "green"]++;
      if (!r.bodyUsed) await r.arrayBuffer();
    }
  }
  return colors;
}

/** Waits until the stand-in holds `kept` points (the recording binding posts after each answer). */
async function recorded(kept: number) {
  const points = () => api.standin.datasets.get("edgekv_rollout")?.length ?? 0;
  for (let i = 0; i < 200 && points() < kept; i++) await new Promise((r) => setTimeout(r, 50));
  return points();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-metrics-e2e-"));
  api = await startAeApi(2);
  blue = await startOrigin("blue");
  green = await startOrigin("green", {
    reply: (req, _body, res) => {
      if (req.url === "/checkout" && failing.checkout) res.writeHead(500).end("checkout is broken");
      else res.writeHead(200, { "content-type": "text/plain" }).end(`green ${req.url}`);
    },
  });
  splitter = await startWorker({
    name: "splitter-metrics-e2e",
    modules: [
      { path: "entry.js", contents: recordingEntry() },
      { path: "index.js", contents: await bundleWorker("splitter", true) },
    ],
    env: "splitter",
    persistTo: dir,
    vars: { CONFIG_TTL_MS: "0" },
    services: { AE_RECORDER: recorderService(api.standin) },
  });
  control = await startWorker({
    name: "control-metrics-e2e",
    modules: [{ path: "index.js", contents: await bundleWorker("control", true) }],
    env: "control",
    persistTo: dir,
    vars: {
      STATUS_SECRET: STATUS,
      CLOUDFLARE_ACCOUNT_ID: api.standin.accountId,
      ANALYTICS_API_TOKEN: api.standin.token,
      CLOUDFLARE_API_BASE_URL: api.url,
    },
  });
  kv = (await splitter.mf.getKVNamespace("ROLLOUT_KV")) as unknown as KvLike;
  const config: RolloutConfigInput = {
    version: 1,
    live: "blue",
    origins: { blue: blue.url, green: green.url },
    percent: 30,
    salt: "metrics-e2e",
    updatedAt: new Date().toISOString(),
    guard: { probes: [{ path: "/health", timeoutMs: 1000 }], threshold: { failures: 1 }, action: "pause", intervalMs: 0, metrics: { minRequests: 50 } },
    timeoutMs: 2000,
  };
  await kv.put(CONFIG_KEY, JSON.stringify(config));
}, 180_000);

afterAll(async () => {
  await Promise.all([splitter?.stop(), control?.stop()]);
  await Promise.all([blue?.close(), green?.close(), api?.close()]);
  await rm(dir, { recursive: true, force: true });
});

describe("the guard on real traffic, end to end", () => {
  it("healthy traffic: the look passes, shows each colour's numbers, and the tick writes nothing", async () => {
    const seen = await traffic(REQUESTS, "a");
    expect(seen.green).toBeGreaterThan(80);
    const kept = await recorded(REQUESTS / 2);
    expect(kept).toBe(REQUESTS / 2);
    const before = await snapshot();
    await cron();
    expect(await snapshot()).toEqual(before);

    const s = await status();
    expect(s.guard.state).toBe("healthy");
    expect(s.metrics?.verdict.action).toBe("pass");
    // One point in 2 kept, each counted twice: the sum is exact, each colour close.
    expect(s.metrics!.blue.requests + s.metrics!.green.requests).toBe(REQUESTS);
    expect(Math.abs(s.metrics!.green.requests - seen.green)).toBeLessThan(seen.green * 0.3);
    expect(s.metrics!.green.errorRate).toBe(0);
    expect(s.metrics!.green.p95).toBeGreaterThanOrEqual(0);
    // What the control Worker asked: this version, weighted by the splitter's weight and _sample_interval.
    expect(api.standin.queries.at(-1)).toMatch(/SUM\(_sample_interval \* double2\) AS requests.*FROM edgekv_rollout WHERE index1 = '1'/);
  });

  it("green fails on /checkout only, /health stays 200: the guard trips on traffic, once, with the numbers", async () => {
    failing.checkout = true;
    const seen = await traffic(REQUESTS, "b");
    expect(seen.green).toBeGreaterThan(80);
    await recorded(REQUESTS);
    await cron();

    const config = JSON.parse((await kv.get(CONFIG_KEY, "text"))!);
    expect(config).toMatchObject({ version: 2, updatedBy: "guard" });
    expect(config.guard.trip.action).toBe("pause");
    expect(config.guard.trip.reason).toMatch(/^traffic: green 5xx \d+\.\d% vs blue 0\.0% over [\d,]+ \/ [\d,]+ requests; p95 \d+ vs \d+ ms$/);
    // The probes saw a healthy green throughout.
    const probes = green.seen.filter((r) => r.url === "/health");
    expect(probes.length).toBeGreaterThanOrEqual(2);

    const s = await status();
    expect(s.guard).toMatchObject({ state: "paused", reason: config.guard.trip.reason });

    // Tripped: the next tick neither writes nor queries.
    const before = await snapshot();
    const queries = api.standin.queries.length;
    await cron();
    expect(await snapshot()).toEqual(before);
    expect(api.standin.queries.length).toBe(queries);
  });
});
