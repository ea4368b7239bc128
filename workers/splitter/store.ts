import { KvCoreReader, json, type KvBinding, type KvOps } from "../../shared/kv/read.ts";
import { CONFIG_KEY, RolloutConfigSchema, type RolloutConfig } from "./model.ts";

/** KV edge cacheTtl for the config read: KV's minimum, so edits propagate as fast as KV allows. */
export const CONFIG_CACHE_TTL_S = 30;

/**
 * Where the Worker gets its config: KV through the isolate cache. Keeping the
 * last good config is the library's (shared/kv/reader.ts): a failed read, an
 * invalid document or a deleted key serves the config held (`staleOnError`,
 * `keepOnMissing`), and a failure with nothing held is not read again, all for
 * one TTL (`errorRetryMs`). This wrapper only logs, once per failure, and keeps
 * the last failure for the 503 without config. Create one per isolate so steady
 * state costs no KV read per request.
 * @example
 * const source = new ConfigSource(env.ROLLOUT_KV, { ttlMs: 5000 });
 * const config = await source.load(ops);
 */
export class ConfigSource {
  readonly #store: KvCoreReader<RolloutConfig, unknown, "json">;
  readonly #log: (line: string) => void;
  /** Whether the most recent read failed. */
  failing = false;
  /** Why the most recent failure happened (the 503 without config logs it). */
  lastError: { message: string } | null = null;

  constructor(binding: KvBinding, options: { ttlMs: number; now?: () => number; log?: (line: string) => void }) {
    this.#log = options.log ?? ((l) => console.error(l));
    this.#store = new KvCoreReader(binding, {
      codec: json(RolloutConfigSchema),
      cacheTtl: CONFIG_CACHE_TTL_S,
      // A missing key is cached for the TTL too (the default negativeTtlMs).
      cache: { ttlMs: Math.max(1, options.ttlMs), maxEntries: 1, staleOnError: true, errorRetryMs: options.ttlMs, keepOnMissing: true },
      now: options.now,
    });
  }

  /**
   * The config to route by now: the current one, or the last good one when
   * the read failed (then `failing`); null when none was ever valid. Never throws.
   */
  async load(ops?: KvOps): Promise<RolloutConfig | null> {
    let config: RolloutConfig | null = null;
    let failure: unknown;
    try {
      const r = await this.#store.getWithMetadata(CONFIG_KEY, { ops });
      config = r.value;
      // A failed read or an invalid document (r.error) comes back as the same error until KV is read again;
      // a key deleted under the config held comes back as keepOnMissing's "missing" (only ever here, never thrown).
      failure = r.error?.code === "missing" ? MISSING : (r.error ?? (config === null ? MISSING : undefined));
    } catch (err) {
      failure = err;
    }
    if (failure === undefined) this.failing = false;
    else {
      const message = failure instanceof Error ? failure.message : String(failure);
      // Log once per failure episode and per message, not once per read (the library hands a failure back until it retries KV).
      if (!this.failing || this.lastError?.message !== message) {
        this.#log(JSON.stringify({ level: "error", code: "rollout_config", message, servingLastGood: config !== null }));
      }
      this.failing = true;
      this.lastError = { message };
    }
    return config;
  }
}

/** The message for a missing key, whether or not a config is held (`keepOnMissing`). */
const MISSING = `no rollout config at key "${CONFIG_KEY}" (run \`edgekv rollout init\`)`;
