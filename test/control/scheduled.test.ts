/**
 * Issue 14 in workerd with the real local KV: the guard's schema, one cron
 * tick at a time (the tick's clock injected as the controller's scheduledTime),
 * what a trip writes (once), what a quiet tick writes (nothing), and what the
 * edge then routes. Origins are `deps.fetch` functions here; the end-to-end
 * run with real origins and a real webhook receiver is test/node/control/guard.e2e.test.ts.
 */
import { env } from "cloudflare:workers";
import { createScheduledController } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import worker from "../../workers/control/index.ts";
import { handle } from "../../workers/splitter/handler.ts";
import {
  CONFIG_KEY,
  HISTORY_PREFIX,
  HistoryEntrySchema,
  NOTIFIED_KEY,
  parseConfig,
  RolloutConfigSchema,
  type GuardInput,
  type RolloutConfigInput,
} from "../../workers/splitter/model.ts";
import { effectivePercent } from "../../workers/splitter/schedule.ts";
import { tick } from "../../workers/control/scheduled.ts";
import { historyKey } from "../../shared/rollout/write.ts";
import { ConfigSource } from "../../workers/splitter/store.ts";
import { signWebhook, webhookKey } from "../../workers/control/webhook.ts";
import type { Schema } from "../../shared/kv/index.ts";
import { GREEN, cfg, origins } from "../splitter/helpers.ts";

const T0 = Date.parse("2026-11-20T10:00:00Z");
const MIN = 60_000;
const SECRET = `whsec_${btoa(String.fromCharCode(...new Uint8Array(32).map((_, i) => i * 7 + 1)))}`;
const HOOK = "https://hooks.test/edgekv";

const guard = (over: Partial<GuardInput> = {}): GuardInput => ({
  probes: [{ path: "/health" }],
  threshold: { failures: 2 },
  action: "pause",
  intervalMs: 0,
  ...over,
});
/** A ramp over an hour: 10% at T0, 50% at +20 min, 100% at +60 min. */
const ramp = [
  { at: new Date(T0).toISOString(), percent: 10 },
  { at: new Date(T0 + 20 * MIN).toISOString(), percent: 50 },
  { at: new Date(T0 + 60 * MIN).toISOString(), percent: 100 },
];

/** The real binding, with every write and delete counted. */
function counted(real: KVNamespace) {
  const writes: string[] = [];
  const calls: string[] = [];
  const kv = new Proxy(real, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        if (prop === "put" || prop === "delete") writes.push(String(args[0]));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { kv, writes, calls };
}

/** Green's /health answers `health` (200 until changed); a webhook receiver records what it got. */
function world(extra: { WEBHOOK_SECRET?: string; WEBHOOK_URLS?: string } = {}) {
  const state = { health: 200, hookStatus: 204 };
  const hooks: { headers: Record<string, string>; body: string }[] = [];
  const o = origins((origin, req) => {
    if (origin === "https://hooks.test") {
      hooks.push({ headers: Object.fromEntries(req.headers), body: o.seen.at(-1)!.body });
      return new Response(null, { status: state.hookStatus });
    }
    if (origin === GREEN && new URL(req.url).pathname === "/health") return new Response("x", { status: state.health });
    return undefined;
  });
  const c = counted(env.ROLLOUT_KV);
  const run = (at: number) => tick({ env: { ROLLOUT_KV: c.kv, ...extra }, fetch: o.fetch, now: at, sleep: async () => {}, log: () => {} });
  const probes = () => o.seen.filter((s) => s.url.endsWith("/health")).length;
  return { state, hooks, seen: o.seen, fetch: o.fetch, writes: c.writes, calls: c.calls, kv: c.kv, run, probes };
}

const write = (c: RolloutConfigInput) => env.ROLLOUT_KV.put(CONFIG_KEY, JSON.stringify(c));
/** A stored document through its schema (throws when invalid). */
async function read<T>(schema: Schema<T>, key: string): Promise<T> {
  const r = schema["~standard"].validate(await env.ROLLOUT_KV.get(key, "json"));
  if (r instanceof Promise || r.issues) throw new Error(`${key} is not valid`);
  return r.value;
}
const stored = () => read(RolloutConfigSchema, CONFIG_KEY);

beforeEach(async () => {
  for (const k of (await env.ROLLOUT_KV.list()).keys) await env.ROLLOUT_KV.delete(k.name);
});

describe("the guard, mirror and webhooks in the one config schema", () => {
  it("fills the guard's defaults", () => {
    const r = parseConfig(cfg({ guard: { probes: [{ path: "/health" }], action: "rollback" } }));
    expect(r.ok && r.config.guard).toEqual({
      probes: [{ path: "/health", timeoutMs: 2000 }],
      threshold: { failures: 3 },
      action: "rollback",
      intervalMs: 1000,
    });
  });

  it.each<[string, unknown, string]>([
    ["a probe path naming another host", { probes: [{ path: "//evil.test/x" }], action: "pause" }, "guard.probes.0.path: must be a path"],
    ["a full URL as probe path", { probes: [{ path: "https://evil.test/" }], action: "pause" }, "guard.probes.0.path:"],
    ["a dot segment", { probes: [{ path: "/app/../admin" }], action: "pause" }, "guard.probes.0.path:"],
    ["an encoded dot segment", { probes: [{ path: "/%2e%2e/admin" }], action: "pause" }, "guard.probes.0.path:"],
    ["a backslash", { probes: [{ path: "/\\evil.test" }], action: "pause" }, "guard.probes.0.path:"],
    ["no probe", { probes: [], action: "pause" }, "guard.probes: must not be empty"],
    ["an unknown action", { probes: [{ path: "/h" }], action: "panic" }, 'guard.action: must be "pause" or "rollback"'],
    ["of below failures", { probes: [{ path: "/h" }], action: "pause", threshold: { failures: 3, of: 2 } }, "guard.threshold: threshold.of must be at least"],
    ["a status out of range", { probes: [{ path: "/h", status: [700] }], action: "pause" }, "guard.probes.0.status.0: must be at most 599"],
    ["more probing than a tick holds", { probes: [{ path: "/h", timeoutMs: 10_000 }], action: "pause", threshold: { failures: 5, of: 10 } }, "(one cron tick)"],
  ])("refuses %s, naming the field", (_name, g, message) => {
    const r = parseConfig({ ...cfg(), guard: g });
    expect(r.ok ? [] : r.issues.join("\n")).toContain(message);
  });

  it.each<[string, unknown, string]>([
    ["a webhook URL with credentials", { webhooks: { urls: ["https://user:pw@hooks.test/"] } }, "webhooks.urls.0:"],
    ["a non-http webhook URL", { webhooks: { urls: ["javascript:alert(1)"] } }, "webhooks.urls.0:"],
    ["a mirror share over 100", { mirror: { percent: 150 } }, "mirror.percent: must be at most 100"],
    ["an unknown mirror field", { mirror: { percent: 5, body: true } }, "mirror.body: unknown key"],
  ])("refuses %s", (_name, extra, message) => {
    const r = parseConfig({ ...cfg(), ...(extra as object) });
    expect(r.ok ? [] : r.issues.join("\n")).toContain(message);
  });
});

describe("one cron tick (real local KV, every write counted)", () => {
  it("a healthy green: probed once, nothing written", async () => {
    await write(cfg({ percent: 10, guard: guard() }));
    const w = world();
    const r = await w.run(T0);
    expect(r).toMatchObject({ version: 1, probed: true, tripped: null });
    expect(w.probes()).toBe(1); // consecutive threshold: the first success settles the tick
    expect(w.writes).toEqual([]);
    // One read and no list a tick: a list a minute would be 1,440 a day, past the Free plan's 1,000.
    expect(w.calls.filter((c) => c === "list")).toEqual([]);
    expect(w.calls.filter((c) => c === "get" || c === "getWithMetadata")).toHaveLength(1);
    expect(w.seen[0]!.url).toBe(`${GREEN}/health`);
    expect(w.seen[0]!.headers["x-edgekv-probe"]).toBe("1");
  });

  it("a green that starts failing trips the guard within one tick: one config write, one history entry by guard", async () => {
    await write(cfg({ percent: 20, guard: guard({ action: "rollback" }), schedule: ramp }));
    const w = world();
    await w.run(T0);
    expect(w.writes).toEqual([]);
    w.state.health = 503;
    const r = await w.run(T0 + MIN);
    expect(r.tripped).toBe("probe /health on green saw HTTP 503; 2 of 2 checks failed");
    expect(w.writes).toEqual([expect.stringMatching(new RegExp(`^${HISTORY_PREFIX}${historyKey(2)}-[0-9a-f]+$`)), CONFIG_KEY]);

    const c = await stored();
    expect(c).toMatchObject({ version: 2, percent: 0, updatedBy: "guard", updatedAt: new Date(T0 + MIN).toISOString() });
    expect(c.schedule).toBeUndefined();
    expect(c.guard!.trip).toEqual({ at: new Date(T0 + MIN).toISOString(), reason: r.tripped, action: "rollback" });
    const h = await read(HistoryEntrySchema, w.writes[0]!);
    expect(h).toMatchObject({ version: 2, by: "guard", action: "guard rollback", config: c });
    expect(h.changes).toEqual(expect.arrayContaining([`+ guard.trip.reason: ${JSON.stringify(r.tripped)}`, "~ percent: 20 -> 0"]));
    expect(h.changes.some((l) => l.startsWith("- schedule.0.at: "))).toBe(true);

    // Tripped: later ticks neither probe nor write.
    const before = w.probes();
    for (let i = 2; i < 5; i++) expect(await w.run(T0 + i * MIN)).toMatchObject({ version: 2, probed: false, tripped: null });
    expect(w.probes()).toBe(before);
    expect(w.writes).toHaveLength(2);
  });

  it("failures out of the last N: 2 of 4 trips, 1 of 4 does not", async () => {
    await write(cfg({ percent: 20, guard: guard({ threshold: { failures: 2, of: 4 } }) }));
    const w = world();
    let calls = 0;
    const flaky = (fail: number[]) =>
      tick({
        env: { ROLLOUT_KV: w.kv },
        fetch: async () => new Response(null, { status: fail.includes(calls++) ? 500 : 200 }),
        now: T0,
        sleep: async () => {},
        log: () => {},
      });
    expect((await flaky([1])).tripped).toBeNull();
    expect(w.writes).toEqual([]);
    calls = 0;
    expect((await flaky([0, 3])).tripped).toBe("probe /health on green saw HTTP 500; 2 of 4 checks failed");
  });

  it("a probe that does not answer in time, or an unexpected status, is a failure", async () => {
    await write(cfg({ percent: 20, guard: guard({ probes: [{ path: "/ready?deep=1", status: [204], timeoutMs: 100 }], threshold: { failures: 1 } }) }));
    const w = world();
    const r = await tick({
      env: { ROLLOUT_KV: w.kv },
      fetch: (req) => new Promise<Response>((_, reject) => req.signal.addEventListener("abort", () => reject(new Error("aborted")))),
      now: T0,
      log: () => {},
    });
    expect(r.tripped).toBe("probe /ready?deep=1 on green saw no answer within 100 ms; 1 of 1 checks failed");
  });

  it("no probe while the non-live colour has no share and no step ahead", async () => {
    await write(cfg({ percent: 0, guard: guard() }));
    const w = world();
    expect((await w.run(T0)).probed).toBe(false);
    expect(w.seen).toEqual([]);
  });

  it("a config changed between the probe and the write is not overwritten", async () => {
    await write(cfg({ percent: 20, guard: guard({ threshold: { failures: 1 } }) }));
    const w = world();
    const r = await tick({
      env: { ROLLOUT_KV: w.kv },
      fetch: async () => {
        await write(cfg({ version: 2, percent: 30, guard: guard({ threshold: { failures: 1 } }) }));
        return new Response(null, { status: 500 });
      },
      now: T0,
      log: () => {},
    });
    expect(r.tripped).toBeNull();
    expect((await stored()).version).toBe(2);
    expect(w.writes).toEqual([]);
  });

  it("the Worker's own scheduled() (createScheduledController) trips on a green that cannot be reached", async () => {
    // Port 1 refuses connections (workerd logs "Network connection lost" for it; the probe catches it).
    await write({
      ...cfg({ percent: 20, guard: guard({ threshold: { failures: 1 }, probes: [{ path: "/health", timeoutMs: 2000 }] }) }),
      origins: { blue: "http://127.0.0.1:9", green: "http://127.0.0.1:1" },
    });
    const c = counted(env.ROLLOUT_KV);
    await worker.scheduled(createScheduledController({ scheduledTime: T0 + 5 * MIN, cron: "* * * * *" }), { ...env, ROLLOUT_KV: c.kv });
    expect(c.writes).toEqual([expect.stringMatching(new RegExp(`^${HISTORY_PREFIX}${historyKey(2)}-[0-9a-f]+$`)), CONFIG_KEY]);
    expect((await stored()).guard!.trip).toMatchObject({
      at: new Date(T0 + 5 * MIN).toISOString(),
      action: "pause",
      reason: expect.stringMatching(/^probe \/health on green saw /),
    });
  });
});

describe("what the edge routes by the guard state it reads from KV", () => {
  const route = async (at: number, ids = 400) => {
    const source = new ConfigSource(env.ROLLOUT_KV, { ttlMs: 0, now: () => at });
    const o = origins();
    const deps = { env: { ROLLOUT_KV: env.ROLLOUT_KV }, source, fetch: o.fetch, now: () => at };
    const res = await Promise.all(
      Array.from({ length: ids }, (_, i) => handle(new Request("https://app.test/", { headers: { cookie: `edgekv_id=visitor-${i}-abcdef` } }), deps)),
    );
    const green = res.filter((r) => r.headers.get("x-edgekv-color") === "green").length / ids;
    return { green, reason: res[0]!.headers.get("x-edgekv-reason") };
  };

  it("a healthy green lets the schedule advance; a tripped one (pause) holds it where it stood", async () => {
    await write(cfg({ percent: 0, schedule: ramp, guard: guard() }));
    const w = world();
    // Healthy ticks: 10% at +10 min, 50% at +30 min, the reason says the guard is healthy.
    await w.run(T0 + 10 * MIN);
    expect(await route(T0 + 10 * MIN)).toMatchObject({ reason: "schedule; guard=healthy" });
    await w.run(T0 + 30 * MIN);
    const at50 = await route(T0 + 30 * MIN);
    expect(at50.green).toBeGreaterThan(0.4);
    expect(at50.green).toBeLessThan(0.6);
    expect(w.writes).toEqual([]);

    // Green breaks at 50%: one tick trips, and the 100% step at +60 min never comes.
    w.state.health = 500;
    expect((await w.run(T0 + 31 * MIN)).tripped).not.toBeNull();
    const later = await route(T0 + 90 * MIN);
    expect(later.reason).toBe("schedule; guard=paused");
    expect(later.green).toBe(at50.green);
    expect(effectivePercent(await stored(), T0 + 90 * MIN)).toEqual({ percent: 50, step: 1, next: undefined });
  });

  it("rollback: 0% to green, rules included; signed testers still reach it", async () => {
    await write(cfg({ percent: 50, rules: [{ match: { path: "/*" }, to: "green" }], guard: guard({ action: "rollback" }) }));
    const w = world();
    expect((await route(T0)).green).toBe(1);
    w.state.health = 502;
    await w.run(T0);
    const after = await route(T0 + MIN);
    expect(after).toEqual({ green: 0, reason: "guard; guard=rolled-back" });
  });

  it("a config without a guard keeps the reason as it was", async () => {
    await write(cfg({ percent: 50 }));
    expect((await route(T0, 1)).reason).toBe("bucket");
  });
});

describe("webhooks: one signed event per change, sent by the cron", () => {
  it("sends one event per version or step change; a quiet tick sends and writes nothing", async () => {
    await write(cfg({ percent: 0, schedule: ramp, guard: guard(), webhooks: { urls: [HOOK] } }));
    const w = world({ WEBHOOK_SECRET: SECRET });
    await w.run(T0 + MIN);
    expect(w.hooks).toHaveLength(1);
    expect(w.writes).toEqual([NOTIFIED_KEY]);
    const first = w.hooks[0]!;
    expect(first.headers["webhook-id"]).toBe("msg_edgekv_v1_s1");
    expect(first.headers["content-type"]).toBe("application/json");
    // The signature is HMAC-SHA256 over id.timestamp.body with the whsec_ key.
    const ts = Number(first.headers["webhook-timestamp"]);
    expect(Math.abs(ts - Date.now() / 1000)).toBeLessThan(60);
    expect(first.headers["webhook-signature"]).toBe(await signWebhook(webhookKey(SECRET)!, "msg_edgekv_v1_s1", ts, first.body));
    expect(JSON.parse(first.body)).toMatchObject({
      type: "rollout.updated",
      data: { version: 1, percent: 10, step: 0, guard: "healthy" },
      text: "edgekv rollout v1: 10% to green, blue live",
    });

    // Nothing changed: no event, no write.
    await w.run(T0 + 2 * MIN);
    await w.run(T0 + 3 * MIN);
    expect(w.hooks).toHaveLength(1);
    expect(w.writes).toEqual([NOTIFIED_KEY]);

    // The schedule passes a step: one event.
    await w.run(T0 + 21 * MIN);
    await w.run(T0 + 22 * MIN);
    expect(w.hooks.map((h) => JSON.parse(h.body).type)).toEqual(["rollout.updated", "rollout.step"]);
    expect(JSON.parse(w.hooks[1]!.body).text).toBe("edgekv rollout v1: 50% to green, blue live (schedule step 2 of 3)");

    // The guard trips: one event, saying why.
    w.state.health = 503;
    await w.run(T0 + 23 * MIN);
    await w.run(T0 + 24 * MIN);
    expect(w.hooks).toHaveLength(3);
    const trip = JSON.parse(w.hooks[2]!.body);
    expect(trip).toMatchObject({ type: "rollout.guard_tripped", data: { version: 2, percent: 50, guard: "paused", updatedBy: "guard" } });
    expect(trip.text).toContain("guard paused the ramp at 2026-11-20T10:23:00.000Z: probe /health on green saw HTTP 503");
    expect(w.writes).toEqual([
      NOTIFIED_KEY,
      NOTIFIED_KEY,
      expect.stringMatching(new RegExp(`^${HISTORY_PREFIX}${historyKey(2)}-[0-9a-f]+$`)),
      CONFIG_KEY,
      NOTIFIED_KEY,
    ]);
  });

  it("retries a failing receiver with backoff, a bounded number of times, and never throws", async () => {
    await write(cfg({ webhooks: { urls: [HOOK] } }));
    const w = world({ WEBHOOK_SECRET: SECRET });
    w.state.hookStatus = 500;
    const waits: number[] = [];
    const logs: string[] = [];
    const r = await tick({
      env: { ROLLOUT_KV: w.kv, WEBHOOK_SECRET: SECRET },
      fetch: w.fetch,
      now: T0,
      sleep: async (ms) => void waits.push(ms),
      log: (l) => logs.push(l),
    });
    expect(r.notified).toEqual([{ url: HOOK, ok: false, attempts: 3, last: "HTTP 500" }]);
    expect(waits).toEqual([1000, 4000]);
    expect(w.hooks.map((h) => h.headers["webhook-id"])).toEqual(Array(3).fill("msg_edgekv_v1_s0"));
    // Logged by the receiver's origin only (its path may hold a secret); remembered, so no retry storm.
    expect(logs.join("\n")).toContain('"receiver":"https://hooks.test"');
    expect(logs.join("\n")).not.toContain("/edgekv");
    expect(w.writes).toEqual([NOTIFIED_KEY]);
  });

  it("off without a strong whsec_ secret: nothing sent, nothing written, the secret never logged", async () => {
    await write(cfg({ webhooks: { urls: [HOOK] } }));
    for (const secret of [undefined, "whsec_c2hvcnQ=", "not-a-whsec-secret-but-long-enough-0123456789"]) {
      const w = world(secret ? { WEBHOOK_SECRET: secret } : {});
      expect((await w.run(T0)).notified).toBeNull();
      expect(w.hooks).toEqual([]);
      expect(w.writes).toEqual([]);
    }
  });

  it("WEBHOOK_URLS adds receivers; an invalid one is skipped", async () => {
    await write(cfg({}));
    const w = world({ WEBHOOK_SECRET: SECRET, WEBHOOK_URLS: `${HOOK}?channel=a, ftp://x.test/, https://u:p@hooks.test/` });
    const r = await w.run(T0);
    expect(r.notified?.map((d) => d.url)).toEqual([`${HOOK}?channel=a`]);
  });
});
