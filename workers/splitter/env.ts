/** The splitter's bindings and vars (wrangler.toml, secrets), and their parsing; index.ts reads them once per isolate. */

/** Isolate TTL of the config when CONFIG_TTL_MS is unset. */
export const DEFAULT_CONFIG_TTL_MS = 5_000;
export const MAX_CONFIG_TTL_MS = 60_000;

export interface SplitterEnv {
  ROLLOUT_KV: KVNamespace;
  /** Isolate TTL of the config in ms (default 5000). */
  CONFIG_TTL_MS?: string;
  /** Origin used while no valid config was ever read; unset means 503. */
  FALLBACK_ORIGIN?: string;
  /** HMAC key of tester overrides; unset means overrides are ignored. */
  OVERRIDE_SECRET?: string;
  /** Bearer secret of the status endpoint; unset means the endpoint is off. */
  STATUS_SECRET?: string;
  /** Workers Rate Limiting binding counting failed status-secret attempts per client. */
  FAILED_STATUS_LIMITER?: RateLimit;
}

/**
 * Parses CONFIG_TTL_MS (a wrangler var), falling back to the default when unset or invalid.
 * @example configTtlMs("2000") // 2000
 */
export function configTtlMs(raw: string | undefined): number {
  const n = Number(raw);
  return raw !== undefined && raw.trim() !== "" && Number.isInteger(n) && n >= 0 && n <= MAX_CONFIG_TTL_MS ? n : DEFAULT_CONFIG_TTL_MS;
}
