/// <reference path="../../worker-configuration.d.ts" />
/** The control Worker's bindings and vars (wrangler.toml [env.control]) and its secrets. */

/** Secrets (`wrangler secret put NAME --env control`; .dev.vars locally): wrangler.toml does not list them, so they are typed here. */
interface ControlSecrets {
  /** Bearer secret of the status page; unset means the page is off. */
  STATUS_SECRET?: string;
  /** Bearer secret of the token admin API; unset means the API is off. */
  ADMIN_SECRET?: string;
  /** Signs webhooks (Standard Webhooks: `whsec_` + base64 of >= 32 bytes); unset or weak means webhooks are off. */
  WEBHOOK_SECRET?: string;
  /** The account whose Analytics Engine the guard queries (guard.metrics; docs/splitter.md "Metrics"). */
  CLOUDFLARE_ACCOUNT_ID?: string;
  /** A read-only token ("Account Analytics: Read"); unset means the guard judges by probes only. */
  ANALYTICS_API_TOKEN?: string;
}

/** Optional vars with defaults in code (docs/auth.md "Leaked tokens", "Expiry notices"). */
interface ControlVars {
  /** Where leak reports' signing keys are published; default GitHub's, "off" turns POST /__edgekv/leaks off. */
  LEAK_KEYS_URL?: string;
  /** Days before expiry a `token.expiring` webhook is sent (default 7, 0 turns the notices off). */
  TOKEN_EXPIRY_NOTICE_DAYS?: string;
  /** The Cloudflare API base for the metrics queries (default https://api.cloudflare.com/client/v4; https, http only to localhost). */
  CLOUDFLARE_API_BASE_URL?: string;
}

/**
 * [env.control] as `npm run cf-typegen` generates it (worker-configuration.d.ts): ROLLOUT_KV and TOKENS_KV.
 * WEBHOOK_URLS and FAILED_CONTROL_LIMITER stay optional: each has a default or is checked for.
 */
export type ControlEnv = Pick<Cloudflare.ControlEnv, "ROLLOUT_KV" | "TOKENS_KV"> & Partial<Cloudflare.ControlEnv> & ControlSecrets & ControlVars;

/** The window of the FAILED_CONTROL_LIMITER binding (wrangler.toml `simple.period`), sent as Retry-After. */
export const RATE_LIMIT_PERIOD_SECONDS = 60;
