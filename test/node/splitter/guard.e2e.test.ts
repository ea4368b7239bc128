/**
 * Issue 14 end to end: the splitter bundle as `wrangler deploy` builds it, in
 * workerd (Miniflare, the [env.splitter] bindings), between two real local
 * origins, with a real webhook receiver. The cron is triggered with an
 * injected clock (scheduledTime); signatures are checked with the Standard
 * Webhooks library.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { IncomingHttpHeaders } from "node:http";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker, startWorker, type RunningWorker } from "../../../scripts/runtime.ts";
import { startOrigin, type Origin } from "../../../scripts/origin.ts";
import { historyKey } from "../../../shared/rollout/write.ts";
import { CONFIG_KEY, HISTORY_PREFIX, type RolloutConfigInput } from "../../../workers/splitter/model.ts";

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const STATUS = "st-secret-for-the-guard-e2e-32-bytes+";
const MIN = 60_000;
// The ramp started 30 minutes ago, so the edge's real clock sits at the 50% step.
const T0 = Math.floor(Date.now() / MIN) * MIN - 30 * MIN;
const iso = (t: number) => new Date(t).toISOString();

let dir: string;
let blue: Origin;
let green: Origin;
let hooks: Origin;
let splitter: RunningWorker;
/** The control Worker (workers/control): the cron and the status page, on the same local state. */
let control: RunningWorker;
const health = { status: 200 };
/** Green's non-probe answers wait this long (a slow mirror target). */
const slow = { ms: 0 };
const events: { headers: IncomingHttpHeaders; body: string }[] = [];

interface KvLike {
  put(key: string, value: string): Promise<void>;
  get(key: string, type: "text"): Promise<string | null>;
  list(): Promise<{ keys: { name: string }[] }>;
}
let kv: KvLike;

const cron = async (at: number) => {
  const w = await control.mf.getWorker();
  await w.scheduled({ scheduledTime: new Date(at), cron: "* * * * *" });
};
/** Every key and value in ROLLOUT_KV, to prove a tick wrote nothing. */
const snapshot = async () => {
  const out: Record<string, string | null> = {};
  for (const k of (await kv.list()).keys) out[k.name] = await kv.get(k.name, "text");
  return out;
};
const verified = (e: (typeof events)[number]) =>
  new Webhook(SECRET).verify(e.body, {
    "webhook-id": String(e.headers["webhook-id"]),
    "webhook-timestamp": String(e.headers["webhook-timestamp"]),
    "webhook-signature": String(e.headers["webhook-signature"]),
  }) as { type: string; text: string; data: Record<string, unknown> };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-guard-e2e-"));
  blue = await startOrigin("blue");
  green = await startOrigin("green", {
    reply: async (req, _body, res) => {
      if (req.url === "/health") {
        res.writeHead(health.status).end(health.status === 200 ? "ok" : "down");
        return;
      }
      if (slow.ms) await new Promise((r) => setTimeout(r, slow.ms));
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ origin: "green", url: req.url }));
    },
  });
  hooks = await startOrigin("hooks", {
    reply: (req, body, res) => {
      events.push({ headers: req.headers, body: body.toString("utf8") });
      res.writeHead(204).end();
    },
  });
  splitter = await startWorker({
    name: "splitter-guard-e2e",
    modules: [{ path: "index.js", contents: await bundleWorker("splitter", true) }],
    env: "splitter",
    persistTo: dir,
    vars: { CONFIG_TTL_MS: "0" },
  });
  control = await startWorker({
    name: "control-guard-e2e",
    modules: [{ path: "index.js", contents: await bundleWorker("control", true) }],
    env: "control",
    persistTo: dir,
    vars: { WEBHOOK_URLS: `${hooks.url}/edgekv`, WEBHOOK_SECRET: SECRET, STATUS_SECRET: STATUS },
  });
  kv = (await splitter.mf.getKVNamespace("ROLLOUT_KV")) as unknown as KvLike;
  const config: RolloutConfigInput = {
    version: 1,
    live: "blue",
    origins: { blue: blue.url, green: green.url },
    percent: 0,
    salt: "guard-e2e",
    schedule: [
      { at: iso(T0), percent: 10 },
      { at: iso(T0 + 20 * MIN), percent: 50 },
      { at: iso(T0 + 60 * MIN), percent: 100 },
    ],
    guard: { probes: [{ path: "/health", timeoutMs: 1000 }], threshold: { failures: 2 }, action: "pause", intervalMs: 100 },
    timeoutMs: 1000,
  };
  await kv.put(CONFIG_KEY, JSON.stringify(config));
}, 120_000);

afterAll(async () => {
  await Promise.all([splitter?.stop(), control?.stop()]);
  await Promise.all([blue?.close(), green?.close(), hooks?.close()]);
  await rm(dir, { recursive: true, force: true });
});

describe("guarded rollout end to end (cron with an injected clock, real origins, real receiver)", () => {
  it("the first tick notifies the rollout once, signed; a tick where nothing changed writes and sends nothing", async () => {
    await cron(T0 + MIN);
    expect(events).toHaveLength(1);
    expect(verified(events[0]!)).toMatchObject({ type: "rollout.updated", data: { version: 1, percent: 10, guard: "healthy" } });
    expect(green.seen.filter((s) => s.url === "/health").length).toBe(1);

    const before = await snapshot();
    await cron(T0 + 2 * MIN);
    await cron(T0 + 3 * MIN);
    expect(await snapshot()).toEqual(before);
    expect(events).toHaveLength(1);
  });

  it("a schedule step passing while green is healthy: one event, 50%", async () => {
    await cron(T0 + 21 * MIN);
    expect(events).toHaveLength(2);
    const e = verified(events[1]!);
    expect(e).toMatchObject({ type: "rollout.step", data: { version: 1, percent: 50, step: 1 } });
    expect(e.text).toBe(`edgekv rollout v1: 50% to green, blue live (schedule step 2 of 3)`);
  });

  it("green starts failing: one tick trips the guard, writes once, and the receiver gets one signed event saying why", async () => {
    health.status = 503;
    await cron(T0 + 22 * MIN);
    const config = JSON.parse((await kv.get(CONFIG_KEY, "text"))!);
    expect(config).toMatchObject({ version: 2, updatedBy: "guard", percent: 0 });
    expect(config.guard.trip).toEqual({ at: iso(T0 + 22 * MIN), action: "pause", reason: "probe /health on green saw HTTP 503; 2 of 2 checks failed" });
    const key = (await kv.list()).keys.map((k) => k.name).find((n) => n.startsWith(HISTORY_PREFIX + historyKey(2)))!;
    const history = JSON.parse((await kv.get(key, "text"))!);
    expect(history).toMatchObject({ version: 2, by: "guard", action: "guard pause" });

    expect(events).toHaveLength(3);
    const e = verified(events[2]!);
    expect(e).toMatchObject({ type: "rollout.guard_tripped", data: { version: 2, percent: 50, guard: "paused" } });
    expect(e.text).toContain("guard paused the ramp");
    expect(e.text).toContain("probe /health on green saw HTTP 503");
    // A forged or altered event does not verify.
    expect(() => new Webhook(SECRET).verify(events[2]!.body.replace("503", "200"), events[2]!.headers as Record<string, string>)).toThrow();

    // Tripped: later ticks neither probe, write nor send.
    const probes = green.seen.filter((s) => s.url === "/health").length;
    const before = await snapshot();
    await cron(T0 + 23 * MIN);
    await cron(T0 + 61 * MIN);
    expect(await snapshot()).toEqual(before);
    expect(events).toHaveLength(3);
    expect(green.seen.filter((s) => s.url === "/health").length).toBe(probes);
  });

  it("the edge holds the share at 50% and says so: x-edgekv-reason and the status JSON", async () => {
    const n = 300;
    const res = await Promise.all(
      Array.from({ length: n }, (_, i) => splitter.mf.dispatchFetch(`http://splitter.test/x`, { headers: { cookie: `edgekv_id=visitor-${i}-abcdef` } })),
    );
    // Drained only to free the connections; under load undici can report a body already consumed.
    for (const r of res) if (!r.bodyUsed) await r.arrayBuffer();
    expect(new Set(res.map((r) => r.headers.get("x-edgekv-reason")))).toEqual(new Set(["schedule; guard=paused"]));
    const share = res.filter((r) => r.headers.get("x-edgekv-color") === "green").length / n;
    expect(share).toBeGreaterThan(0.4);
    expect(share).toBeLessThan(0.6);

    const status = (await (
      await control.mf.dispatchFetch("http://control.test/__edgekv/status.json", { headers: { authorization: `Bearer ${STATUS}` } })
    ).json()) as {
      guard: unknown;
      percentNow: number;
      webhooks: unknown;
    };
    expect(status).toMatchObject({
      percentNow: 50,
      guard: { state: "paused", action: "pause", since: iso(T0 + 22 * MIN), reason: expect.stringContaining("HTTP 503") },
      webhooks: { receivers: 1, on: true },
    });
  });
});

describe("mirroring end to end", () => {
  it("a slow mirror target changes nothing for the user; the copy arrives marked and without a body", async () => {
    const v = JSON.parse((await kv.get(CONFIG_KEY, "text"))!).version as number;
    const base: RolloutConfigInput = { version: v + 1, live: "blue", origins: { blue: blue.url, green: green.url }, percent: 0, timeoutMs: 3000 };
    const timed = async (path: string) => {
      const t = performance.now();
      const r = await splitter.mf.dispatchFetch(`http://splitter.test${path}`);
      const { origin, url, method } = (await r.json()) as { origin: string; url: string; method: string };
      return { status: r.status, body: { origin, url, method }, ms: performance.now() - t };
    };
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

    await kv.put(CONFIG_KEY, JSON.stringify(base));
    const plain = [];
    for (let i = 0; i < 15; i++) plain.push(await timed(`/m${i}`));

    slow.ms = 1500;
    await kv.put(CONFIG_KEY, JSON.stringify({ ...base, version: v + 2, mirror: { percent: 100 } }));
    green.seen.length = 0;
    const mirrored = [];
    for (let i = 0; i < 15; i++) mirrored.push(await timed(`/m${i}`));

    for (const [i, m] of mirrored.entries()) {
      expect(m.status).toBe(200);
      expect(m.body).toEqual(plain[i]!.body);
    }
    // Within noise of the unmirrored run, and far below the mirror target's 1.5 s.
    expect(median(mirrored.map((m) => m.ms))).toBeLessThan(median(plain.map((m) => m.ms)) + 100);
    await new Promise((r) => setTimeout(r, 2000));
    const copies = green.seen.filter((s) => s.headers["x-edgekv-mirror"] === "1");
    expect(copies.length).toBe(15);
    expect(copies.every((c) => c.method === "GET" && c.bytes === 0)).toBe(true);
    slow.ms = 0;
  });
});
