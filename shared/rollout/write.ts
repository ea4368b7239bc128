/**
 * The one writer of the rollout config (ROLLOUT_KV), used by the CLI
 * (cli/rollout/store.ts) and the control Worker's guard (workers/control/scheduled.ts)
 * alike: validated, versioned, compared before writing, history first, pruned.
 * Runtime-neutral (KV binding and Web Crypto only).
 *
 * KV has no compare-and-swap, so two writers who read the same version are
 * told apart after the fact:
 *  1. each write has a unique write id, stored in the config (`writeId`) and in
 *     its history key (`<version>-<write id>`: one key per write, never per
 *     version, so no entry overwrites another);
 *  2. the history entry is written first, as a claim on the version; a writer
 *     that then lists another claim on the same version gives way (its claim
 *     is removed, the command fails with "overwritten by <who> at vN; run again");
 *  3. after the config is written it is read back: a write id that is not
 *     ours at our version is reported the same way, never as success.
 * On a store that orders operations (local state, one KV location) two
 * concurrent writers never both succeed; across Cloudflare locations, where
 * KV is eventually consistent, step 3 is a best effort (docs/splitter.md).
 */
import type { KvBinding } from "../kv/binding.ts";
import { json, text } from "../kv/codec.ts";
import { KvStore } from "../kv/store.ts";
import {
  CONFIG_KEY,
  HISTORY_LIMIT,
  HISTORY_PREFIX,
  HistoryEntrySchema,
  RolloutConfigSchema,
  parseConfig,
  type HistoryEntry,
  type RolloutConfig,
} from "../../workers/splitter/model.ts";
import { configDiff } from "./diff.ts";
import { effectiveChange } from "./ramp.ts";

const VERSION_DIGITS = 10;

/**
 * The one key function of the history family, under HISTORY_PREFIX: the version
 * zero-padded (keys list in version order), then the write id. Without a write
 * id: the prefix of every entry of that version (and the key entries had before write ids).
 * @example historyKey(11, "3f9c2a") // "0000000011-3f9c2a"
 */
export const historyKey = (version: number, writeId?: string): string =>
  String(version).padStart(VERSION_DIGITS, "0") + (writeId === undefined ? "" : `-${writeId}`);

/** The version a history key name holds (old `0000000011` and new `0000000011-<id>` keys alike); NaN for another name. */
export const historyVersion = (name: string): number => (/^\d{10}(-|$)/.test(name) ? Number(name.slice(0, VERSION_DIGITS)) : Number.NaN);

/** A fresh write id: 96 random bits, hex. */
const newWriteId = (): string => crypto.randomUUID().replace(/-/g, "").slice(0, 24);

export interface Current {
  /** The stored config when valid. */
  config: RolloutConfig | null;
  /** The raw stored text (null when the key is missing). */
  raw: string | null;
  /** Why the stored text is not a valid config. */
  issues: string[];
  /** The version a write must exceed (from the stored document, even an invalid one, or the history). */
  version: number;
}

/** The stored config is invalid, or the proposed one is: nothing was written. */
export class RolloutInvalidError extends Error {
  override name = "RolloutInvalidError";
}

/** Another writer's config stands where ours was to go: our change is not live. */
export class RolloutOverwrittenError extends Error {
  override name = "RolloutOverwrittenError";
  readonly by: string;
  readonly version: number;
  constructor(by: string, version: number) {
    super(`overwritten by ${by} at v${version}; run again`);
    this.by = by;
    this.version = version;
  }
}

/** One history entry as the status page and `rollout history` list it. */
export interface HistoryLine {
  version: number;
  at: string;
  by: string;
  action: string;
  changes: string[];
}

const stores = (kv: KvBinding) => ({
  raw: new KvStore(kv, { codec: text() }),
  config: new KvStore(kv, { codec: json(RolloutConfigSchema) }),
  history: new KvStore(kv, { prefix: HISTORY_PREFIX, codec: json(HistoryEntrySchema) }),
});

async function historyNames(kv: KvBinding, prefix = ""): Promise<string[]> {
  const names: string[] = [];
  for await (const k of stores(kv).history.keys({ prefix })) if (!Number.isNaN(historyVersion(k.name))) names.push(k.name);
  return names;
}

function safeJson(raw: string | null): unknown {
  try {
    return raw === null ? null : (JSON.parse(raw) as unknown);
  } catch {
    return null;
  }
}

/**
 * The stored config, read once, with the version a write must exceed.
 * @example const cur = await readRollout(env.ROLLOUT_KV); cur.config?.percent
 */
export async function readRollout(kv: KvBinding): Promise<Current> {
  const s = stores(kv);
  const [raw, names] = await Promise.all([s.raw.get(CONFIG_KEY, { fresh: true }), historyNames(kv)]);
  const latest = names.reduce((m, n) => Math.max(m, historyVersion(n)), 0);
  if (raw === null) return { config: null, raw, issues: [], version: latest };
  const parsed = safeJson(raw);
  if (parsed === null) return { config: null, raw, issues: ["(config): not valid JSON"], version: latest };
  const r = parseConfig(parsed);
  const stored = (parsed as { version?: unknown }).version;
  const version = Math.max(typeof stored === "number" && Number.isFinite(stored) ? Math.floor(stored) : 0, latest);
  return r.ok ? { config: r.config, raw, issues: [], version: Math.max(version, r.config.version) } : { config: null, raw, issues: r.issues, version };
}

/**
 * Only the stored config, when valid: one KV read and no list (the cron's every tick; a write reads with `readRollout`).
 * @example const config = await readConfig(env.ROLLOUT_KV);
 */
export async function readConfig(kv: KvBinding): Promise<RolloutConfig | null> {
  const r = parseConfig(safeJson(await stores(kv).raw.get(CONFIG_KEY, { fresh: true })));
  return r.ok ? r.config : null;
}

/**
 * History entries, newest first (`limit` of them; all by default).
 * @example for (const e of await listHistory(kv, 5)) console.log(e.version, e.by);
 */
export async function listHistory(kv: KvBinding, limit = Number.POSITIVE_INFINITY): Promise<HistoryEntry[]> {
  const history = stores(kv).history;
  const names = (await historyNames(kv)).reverse().slice(0, limit);
  const out: HistoryEntry[] = [];
  for (const name of names) {
    const e = await history.get(name);
    if (e) out.push(e);
  }
  return out;
}

/** The last `limit` entries without their configs (the status page). */
export async function recentHistory(kv: KvBinding, limit: number): Promise<HistoryLine[]> {
  return (await listHistory(kv, limit)).map(({ version, at, by, action, changes }) => ({ version, at, by, action, changes }));
}

/** The entry that wrote `version` (a version whose write lost a race has none). */
export async function historyEntry(kv: KvBinding, version: number): Promise<HistoryEntry | null> {
  const names = await historyNames(kv, historyKey(version));
  return names.length ? stores(kv).history.get(names[0]!) : null;
}

export interface WriteOptions {
  /** What the history says was done, e.g. `set 20%`, `guard pause`. */
  action: string;
  /** Who: the CLI's user@host, or `guard`. */
  by: string;
  /** Epoch ms. */
  now: number;
}

/**
 * What writing `next` over `base` changes, as the diff and the history show it: the share
 * in force first (`+ schedule...` alone hides that users move; ramp.ts), then each field.
 * @example rolloutChanges(await readRollout(kv), candidate, Date.now()) // ["~ in force: 50% -> 10% to green", "~ percent: 50 -> 10"]
 */
export function rolloutChanges(base: Current, next: RolloutConfig, now: number): string[] {
  const effective = effectiveChange(base.config, next, now);
  return [...(effective ? [effective] : []), ...configDiff(base.config ?? safeJson(base.raw), next)];
}

/**
 * Validates `next`, then writes it as version `base.version + 1`: history
 * entry first (the claim), then the config, then reads it back (see the top of
 * this file). Null when nothing would change. Throws `RolloutInvalidError`
 * for an invalid config, `RolloutOverwrittenError` when another writer won.
 * @example const done = await writeRollout(kv, await readRollout(kv), { ...cfg, percent: 20 }, { action: "set 20%", by: "alice", now: Date.now() });
 */
export async function writeRollout(kv: KvBinding, base: Current, next: object, o: WriteOptions): Promise<{ config: RolloutConfig; changes: string[] } | null> {
  const at = new Date(o.now).toISOString();
  const writeId = newWriteId();
  const version = base.version + 1;
  const r = parseConfig({ ...next, version, updatedAt: at, updatedBy: o.by, writeId });
  if (!r.ok) throw new RolloutInvalidError(`invalid rollout config: ${r.issues.join("; ")}`);
  const changes = rolloutChanges(base, r.config, o.now);
  if (base.config && changes.length === 0) return null;
  const s = stores(kv);
  const mine = historyKey(version, writeId);
  await s.history.put(mine, { version, at, by: o.by, action: o.action, changes, config: r.config });
  try {
    const rival = (await historyNames(kv, historyKey(version))).find((n) => n !== mine);
    if (rival) {
      // Someone else claimed this version too: give way.
      throw new RolloutOverwrittenError((await s.history.get(rival).catch(() => null))?.by ?? "another writer", version);
    }
    await s.config.put(CONFIG_KEY, r.config);
  } catch (err) {
    // Nothing went live: leave no history entry for it (best effort; a leftover only skips a version number).
    await s.history.delete(mine).catch(() => {});
    throw err;
  }
  const after = parseConfig(safeJson(await s.raw.get(CONFIG_KEY, { fresh: true })));
  const stored = after.ok ? after.config : null;
  // A later version built on ours is fine; our version with another id, or an older one, is not.
  if (!stored || stored.version < version || (stored.version === version && stored.writeId !== writeId)) {
    throw new RolloutOverwrittenError(stored?.updatedBy ?? "another writer", stored?.version ?? version);
  }
  await prune(kv);
  return { config: r.config, changes };
}

/** Keeps the newest HISTORY_LIMIT entries. */
async function prune(kv: KvBinding): Promise<void> {
  const names = await historyNames(kv);
  const history = stores(kv).history;
  for (const name of names.slice(0, Math.max(0, names.length - HISTORY_LIMIT))) await history.delete(name);
}
