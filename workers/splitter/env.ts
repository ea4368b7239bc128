/// <reference path="../../worker-configuration.d.ts" />
/** The splitter's bindings, vars and secrets, typed; config.ts parses the vars. */

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
