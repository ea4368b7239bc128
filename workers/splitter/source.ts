import { KvReader, json, type KvBinding, type KvOps } from "../../shared/kv/index.ts";
import { CONFIG_KEY, type RolloutConfig } from "./config.ts";
import { RolloutConfigShape } from "./shape.ts";

/** Isolate TTL of the config when CONFIG_TTL_MS is unset. */
export const DEFAULT_CONFIG_TTL_MS = 5_000;
export const MAX_CONFIG_TTL_MS = 60_000;
/** KV edge cacheTtl for the config read: KV's minimum, so edits propagate as fast as KV allows. */
export const CONFIG_CACHE_TTL_S = 30;

export interface ConfigError {
  message: string;
  /** Epoch ms. */
  at: number;
}

export interface Loaded {
  /** The config to route by: the current one, or the last good one; null when none was ever valid. */
  config: RolloutConfig | null;
  /** True when `config` is the last good one because the current read failed. */
  stale: boolean;
}

/**
 * Parses CONFIG_TTL_MS (a wrangler var), falling back to the default when unset or invalid.
 * @example configTtlMs("2000") // 2000
 */
export function configTtlMs(raw: string | undefined): number {
  const n = Number(raw);
  return raw !== undefined && raw.trim() !== "" && Number.isInteger(n) && n >= 0 && n <= MAX_CONFIG_TTL_MS ? n : DEFAULT_CONFIG_TTL_MS;
}

/**
 * Where the Worker gets its config: KV through the isolate cache, keeping the
 * last good config when KV fails or holds an invalid document. Create one per
 * isolate (module scope) so steady state costs no KV read per request.
 * @example
 * const source = new ConfigSource(env.ROLLOUT_KV, { ttlMs: 5000 });
 * const { config, stale } = await source.load(ops);
 */
export class ConfigSource {
  readonly ttlMs: number;
  readonly #store: KvReader<RolloutConfig, unknown, "json">;
  readonly #now: () => number;
  readonly #log: (line: string) => void;
  #good: RolloutConfig | null = null;
  /** After a failed read, no new read before this time (one read per TTL while KV is broken). */
  #retryAt = 0;
  /** Whether the most recent read failed. */
  failing = false;
  lastError: ConfigError | null = null;
  /** Epoch ms when the config held was last read successfully from KV. */
  loadedAt = 0;

  constructor(binding: KvBinding, options: { ttlMs: number; now?: () => number; log?: (line: string) => void }) {
    this.ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
    this.#log = options.log ?? ((l) => console.error(l));
    this.#store = new KvReader(binding, {
      codec: json(RolloutConfigShape),
      cacheTtl: CONFIG_CACHE_TTL_S,
      cache: { ttlMs: Math.max(1, options.ttlMs), maxEntries: 1, staleOnError: true },
      now: this.#now,
    });
  }

  /** The config to route by now. Never throws. */
  async load(ops?: KvOps): Promise<Loaded> {
    const now = this.#now();
    if (this.failing && now < this.#retryAt) return { config: this.#good, stale: this.#good !== null };
    try {
      const r = await this.#store.getWithMetadata(CONFIG_KEY, ops ? { ops } : {});
      if (r.stale) return this.#fail(r.error?.message ?? "KV read failed", now);
      if (r.value === null) return this.#fail(`no rollout config at key "${CONFIG_KEY}" (run \`edgekv rollout init\`)`, now);
      if (!r.cached) this.loadedAt = now;
      this.#good = r.value;
      this.failing = false;
      return { config: r.value, stale: false };
    } catch (err) {
      return this.#fail(err instanceof Error ? err.message : String(err), now);
    }
  }

  #fail(message: string, now: number): Loaded {
    // Log once per failure episode and per message, not once per request.
    if (!this.failing || this.lastError?.message !== message) {
      this.#log(JSON.stringify({ level: "error", code: "rollout_config", message, servingLastGood: this.#good !== null }));
    }
    this.failing = true;
    this.lastError = { message, at: now };
    this.#retryAt = now + this.ttlMs;
    return { config: this.#good, stale: this.#good !== null };
  }
}
