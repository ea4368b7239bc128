import { hostname, userInfo } from "node:os";
import { KvStore, json, text, type KvBinding } from "../../shared/kv/index.ts";
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
import { CliError } from "../errors.ts";
import { writeTogether } from "../remote/bulk.ts";
import { configDiff } from "./diff.ts";
import { effectiveChange } from "./ramp.ts";

/** `rollout/history/0000000007`: zero-padded so keys list in version order. */
export const historyKey = (version: number) => String(version).padStart(10, "0");

/** Who is writing: EDGEKV_USER, else user@host. */
export function whoAmI(): string {
  if (process.env.EDGEKV_USER) return process.env.EDGEKV_USER;
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `unknown@${hostname()}`;
  }
}

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

/**
 * The rollout config in one KV namespace: reads, validated writes with a
 * bounded history, and rollback to a version.
 * @example const r = new RolloutStore(kv); const cur = await r.current(); await r.write(cur, next, "set 20%");
 */
export class RolloutStore {
  readonly #raw: KvStore<string, unknown, "text">;
  readonly #config: KvStore<RolloutConfig, unknown, "json">;
  readonly #history: KvStore<HistoryEntry, unknown, "json">;
  readonly #now: () => number;

  constructor(kv: KvBinding, now: () => number = Date.now) {
    this.#raw = new KvStore(kv, { codec: text() });
    this.#config = new KvStore(kv, { codec: json(RolloutConfigSchema) });
    this.#history = new KvStore(kv, { prefix: HISTORY_PREFIX, codec: json(HistoryEntrySchema) });
    this.#now = now;
  }

  async current(): Promise<Current> {
    const raw = await this.#raw.get(CONFIG_KEY);
    if (raw === null) return { config: null, raw, issues: [], version: await this.#latestHistoryVersion() };
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (err) {
      return { config: null, raw, issues: [`(config): not valid JSON (${(err as Error).message})`], version: await this.#latestHistoryVersion() };
    }
    const r = parseConfig(parsed);
    const stored = (parsed as { version?: unknown } | null)?.version;
    const version = Math.max(typeof stored === "number" && Number.isFinite(stored) ? Math.floor(stored) : 0, await this.#latestHistoryVersion());
    return r.ok ? { config: r.config, raw, issues: [], version: Math.max(version, r.config.version) } : { config: null, raw, issues: r.issues, version };
  }

  /** The valid current config, or a one-line error saying what to do. */
  async require(): Promise<RolloutConfig> {
    const cur = await this.current();
    if (cur.config) return cur.config;
    if (cur.raw === null) throw new CliError("no rollout config yet; run `edgekv rollout init --blue URL --green URL`");
    throw new CliError(
      `the stored rollout config is invalid (${cur.issues.join("; ")}); replace it with \`edgekv rollout config put FILE\` or \`edgekv rollout rollback --to VERSION\``,
    );
  }

  /**
   * Validates `next` with the Worker's schema, then writes it as version
   * `base.version + 1` with a history entry. Refuses invalid input naming the field.
   * Returns null when nothing would change.
   */
  async write(base: Current, next: object, action: string, by = whoAmI()): Promise<{ config: RolloutConfig; changes: string[] } | null> {
    const at = new Date(this.#now()).toISOString();
    const candidate = { ...next, version: base.version + 1, updatedAt: at, updatedBy: by };
    const r = parseConfig(candidate);
    if (!r.ok) throw new CliError(`invalid rollout config: ${r.issues.join("; ")}`);
    // The share in force first: `+ schedule...` alone hides that users move (cli/rollout/ramp.ts).
    const effective = effectiveChange(base.config, r.config, this.#now());
    const changes = [...(effective ? [effective] : []), ...configDiff(base.config ?? safeJson(base.raw), r.config)];
    if (base.config && changes.length === 0) return null;
    // Best effort against a concurrent writer (KV has no compare-and-swap).
    const again = await this.current();
    if (again.version !== base.version) throw new CliError(`the config changed meanwhile (now version ${again.version}); run the command again`);
    // History first: the audit trail never misses a config that went live. On --remote both go in one
    // bulk request (cli/remote/bulk.ts), so neither is written unless the request succeeds.
    await writeTogether(this.#config.binding, async () => {
      await this.#history.put(historyKey(r.config.version), { version: r.config.version, at, by, action, changes, config: r.config });
      await this.#config.put(CONFIG_KEY, r.config);
    });
    await this.#prune();
    return { config: r.config, changes };
  }

  /** History entries, newest first. */
  async history(): Promise<HistoryEntry[]> {
    const names: string[] = [];
    for await (const k of this.#history.keys()) names.push(k.name);
    const out: HistoryEntry[] = [];
    for (const name of names.reverse()) {
      const e = await this.#history.get(name);
      if (e) out.push(e);
    }
    return out;
  }

  async entry(version: number): Promise<HistoryEntry | null> {
    return this.#history.get(historyKey(version));
  }

  async #latestHistoryVersion(): Promise<number> {
    let last = 0;
    for await (const k of this.#history.keys()) last = Math.max(last, Number(k.name));
    return last;
  }

  async #prune(): Promise<void> {
    const names: string[] = [];
    for await (const k of this.#history.keys()) names.push(k.name);
    for (const name of names.slice(0, Math.max(0, names.length - HISTORY_LIMIT))) await this.#history.delete(name);
  }
}

function safeJson(raw: string | null): unknown {
  try {
    return raw === null ? null : (JSON.parse(raw) as unknown);
  } catch {
    return null;
  }
}
