import { KvWriter, json, type KvBinding } from "../../shared/kv/index.ts";
import { readConfig, readRollout, writeRollout } from "../../shared/rollout/write.ts";
import type { OriginFetch } from "../splitter/origin.ts";
import { NOTIFIED_KEY, NotifiedSchema, guardState, otherColor, type Notified, type RolloutConfig } from "../splitter/model.ts";
import { effectivePercent } from "../splitter/schedule.ts";
import type { ControlEnv } from "./env.ts";
import { checkGuard } from "./guard.ts";
import { lookAtTraffic, type MetricsLook } from "./metrics.ts";
import { deliver, webhookKey, webhookUrls, type Delivery } from "./webhook.ts";

export interface TickDeps {
  /** The cron reads ROLLOUT_KV, WEBHOOK_URLS and WEBHOOK_SECRET only. */
  env: Omit<ControlEnv, "TOKENS_KV">;
  /** Probes and webhooks (the global fetch in production). */
  fetch: OriginFetch;
  /** The tick's clock: the controller's scheduledTime. */
  now: number;
  sleep?: (ms: number) => Promise<void>;
  log?: (line: string) => void;
}

/** What one tick did (for tests and the log). */
export interface TickResult {
  version: number | null;
  probed: boolean;
  tripped: string | null;
  notified: Delivery[] | null;
  /** What the look at real traffic saw (null: not judged this tick). */
  metrics: MetricsLook | null;
}

/**
 * KV propagates a write to other locations in about 60 s, and a read there
 * may return the old value until then: for that long after its own write,
 * this isolate trusts what it wrote over an older read. A hint that avoids a
 * duplicate trip or webhook, never the source of truth.
 */
const MEMO_MS = 120_000;
const memos = new WeakMap<KvBinding, { config?: RolloutConfig; notified?: Notified; until: number }>();

const newer = <T extends { version: number }>(read: T | null, memo: T | undefined, live: boolean): T | null =>
  live && memo && (!read || memo.version > read.version) ? memo : read;

const sleeper = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * One cron tick: probe and evaluate the guard, write a trip once, and send
 * one webhook per rollout change. A healthy tick, and one where nothing
 * changed, writes nothing. Never throws.
 * @example await tick({ env, fetch, now: controller.scheduledTime })
 */
export async function tick(deps: TickDeps): Promise<TickResult> {
  const log = deps.log ?? ((l: string) => console.log(l));
  const out: TickResult = { version: null, probed: false, tripped: null, notified: null, metrics: null };
  try {
    const kv = deps.env.ROLLOUT_KV;
    const memo = memos.get(kv);
    const live = !!memo && Date.now() < memo.until;
    // One read a tick (no list: a list a minute would pass the Free plan's 1,000 a day); the full read only to write.
    let config = newer(await readConfig(kv), memo?.config, live);
    if (!config) return out;
    const g = await guardTick(kv, config, deps, log);
    config = g.config;
    Object.assign(out, g.out);
    out.version = config.version;
    out.notified = await notify(kv, config, deps, log);
  } catch (err) {
    log(JSON.stringify({ level: "error", code: "tick_failed", message: err instanceof Error ? err.message : String(err) }));
  }
  return out;
}

/**
 * The guard's part of a tick: probes first, then (when they pass and `guard.metrics` is on)
 * one look at real traffic (metrics.ts). Either trips through the same one write (trip()).
 */
async function guardTick(kv: KvBinding, config: RolloutConfig, deps: TickDeps, log: (l: string) => void) {
  const out: Pick<TickResult, "probed" | "tripped" | "metrics"> = { probed: false, tripped: null, metrics: null };
  const guard = config.guard;
  const eff = effectivePercent(config, deps.now);
  // Probe only while the non-live colour has a share, or a step that will give it one.
  if (!guard || guard.trip || !(eff.percent > 0 || eff.next)) return { config, out };
  out.probed = true;
  const v = await checkGuard(config, guard, deps.fetch, deps.sleep ?? sleeper);
  let reason = v.tripped ? v.reason : "";
  if (!reason && eff.percent > 0) {
    // Real traffic only while the non-live colour has a share; the verdict goes to the log (no KV write).
    out.metrics = await lookAtTraffic(config, deps.env, deps.fetch, deps.now);
    const m = out.metrics;
    if (m)
      log(JSON.stringify({ level: m.verdict.action === "trip" ? "warn" : "info", code: "guard_metrics", version: config.version, look: m.look, ...m.verdict }));
    if (m?.verdict.action === "trip") reason = `traffic: ${m.verdict.reason}`;
  }
  if (!reason) return { config, out };
  // The checks took a while: write on a fresh read, through the one writer (it reports a concurrent write).
  const memo = memos.get(kv);
  const live = !!memo && Date.now() < memo.until;
  const base = await readRollout(kv);
  const fresh = newer(base.config, memo?.config, live);
  if (fresh?.version !== config.version || fresh.guard?.trip) return { config, out };
  const next = await trip(kv, base, fresh, reason, deps.now);
  memos.set(kv, { ...memos.get(kv), config: next, until: Date.now() + MEMO_MS });
  out.tripped = reason;
  log(JSON.stringify({ level: "warn", code: "guard_tripped", version: next.version, action: guard.action, reason }));
  return { config: next, out };
}

/** Writes the tripped config as the next version, as `edgekv rollout` writes any change (shared/rollout/write.ts). */
async function trip(kv: KvBinding, base: Awaited<ReturnType<typeof readRollout>>, config: RolloutConfig, reason: string, now: number): Promise<RolloutConfig> {
  const guard = config.guard!;
  const at = new Date(now).toISOString();
  const next: RolloutConfig = { ...config, guard: { ...guard, trip: { at, reason, action: guard.action } } };
  if (guard.action === "rollback") {
    // A real rollback, as `edgekv rollout rollback` writes it: resuming later does not bring the old share back.
    next.percent = 0;
    delete next.schedule;
  }
  const done = await writeRollout(kv, { ...base, config }, next, { action: `guard ${guard.action}`, by: "guard", now });
  return done?.config ?? config;
}

/**
 * Sends one signed event when the config version or the schedule step in
 * force differs from the last one notified, then remembers it (one small
 * write, only then). Off without receivers or a strong WEBHOOK_SECRET.
 */
async function notify(kv: KvBinding, config: RolloutConfig, deps: TickDeps, log: (l: string) => void): Promise<Delivery[] | null> {
  const urls = webhookUrls(config, deps.env.WEBHOOK_URLS);
  if (!urls.length) return null;
  const key = webhookKey(deps.env.WEBHOOK_SECRET);
  if (!key) return null;
  const memo = memos.get(kv);
  const store = new KvWriter(kv, { codec: json(NotifiedSchema) });
  const last = newer(await store.get(NOTIFIED_KEY), memo?.notified, !!memo && Date.now() < memo.until);
  const eff = effectivePercent(config, deps.now);
  if (last && (last.version > config.version || (last.version === config.version && last.step === eff.step))) return null;

  const changed = !last || last.version !== config.version;
  const trip = config.guard?.trip;
  const type = !changed ? "rollout.step" : config.updatedBy === "guard" && trip ? "rollout.guard_tripped" : "rollout.updated";
  const canary = otherColor(config.live);
  let text = `edgekv rollout v${config.version}: ${eff.percent}% to ${canary}, ${config.live} live`;
  if (type === "rollout.step") text += ` (schedule step ${eff.step + 1} of ${config.schedule?.length ?? 0})`;
  else if (config.updatedBy) text += ` (by ${config.updatedBy})`;
  if (trip) text += `; guard ${trip.action === "pause" ? "paused the ramp" : "rolled back"} at ${trip.at}: ${trip.reason}`;
  const body = JSON.stringify({
    type,
    timestamp: new Date(deps.now).toISOString(),
    data: {
      version: config.version,
      live: config.live,
      canary,
      percent: eff.percent,
      step: eff.step,
      guard: guardState(config),
      trip: trip ?? null,
      updatedBy: config.updatedBy ?? null,
    },
    text,
  });
  const id = `msg_edgekv_v${config.version}_s${eff.step + 1}`;
  const sent = await deliver(urls, id, body, key, deps.fetch, deps.sleep ?? sleeper);
  for (const d of sent) {
    // The receiver's origin only: a URL's path or query may hold its own secret.
    if (!d.ok) log(JSON.stringify({ level: "error", code: "webhook_failed", receiver: new URL(d.url).origin, attempts: d.attempts, last: d.last, id }));
  }
  // Remembered even when a receiver failed every attempt: one event per change, never a retry storm.
  const notified = { version: config.version, step: eff.step, at: new Date(deps.now).toISOString() };
  await store.put(NOTIFIED_KEY, notified);
  memos.set(kv, { ...memos.get(kv), notified, until: Date.now() + MEMO_MS });
  return sent;
}
