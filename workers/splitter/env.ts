/// <reference path="../../worker-configuration.d.ts" />
/** The splitter's bindings and vars (wrangler.toml, secrets), and their parsing; index.ts reads them once per isolate. */

/** Isolate TTL of the config when CONFIG_TTL_MS is unset. */
export const DEFAULT_CONFIG_TTL_MS = 5_000;
export const MAX_CONFIG_TTL_MS = 60_000;

/** Secrets (`wrangler secret put NAME --env splitter`; .dev.vars locally): wrangler.toml does not list them, so they are typed here. */
interface SplitterSecrets {
  /** HMAC key of tester overrides; unset means overrides are ignored. */
  OVERRIDE_SECRET?: string;
}

/**
 * [env.splitter] as `npm run cf-typegen` generates it (worker-configuration.d.ts): ROLLOUT_KV and no other
 * namespace. Vars (CONFIG_TTL_MS, FALLBACK_ORIGIN, FORWARDED_HOST) stay optional: each has a default.
 */
export type SplitterEnv = Pick<Cloudflare.SplitterEnv, "ROLLOUT_KV"> & Partial<Cloudflare.SplitterEnv> & SplitterSecrets;

/**
 * Parses CONFIG_TTL_MS (a wrangler var), falling back to the default when unset or invalid.
 * @example configTtlMs("2000") // 2000
 */
export function configTtlMs(raw: string | undefined): number {
  const n = Number(raw);
  return raw !== undefined && raw.trim() !== "" && Number.isInteger(n) && n >= 0 && n <= MAX_CONFIG_TTL_MS ? n : DEFAULT_CONFIG_TTL_MS;
}
