/// <reference path="../../worker-configuration.d.ts" />
/** The gate's bindings, vars and secrets, typed; config.ts reads them into a GateConfig. */

/** Bindings and vars the gate reads that wrangler.toml does not set by default (so cf-typegen cannot see them), and its secrets. */
interface AuthExtras {
  /** Service binding to the origin; wins over ORIGIN_URL when bound. */
  ORIGIN?: Fetcher;
  /** "true" keeps Authorization on forwarded requests. */
  FORWARD_AUTHORIZATION?: string;
  CORS_ALLOW_METHODS?: string;
  CORS_ALLOW_HEADERS?: string;
  CORS_MAX_AGE?: string;
  /** The assertion's `iss`; default the origin of the URL the request reached the gate on. */
  ASSERTION_ISSUER?: string;
  /** The assertion's `aud`; default the origin of the URL forwarded to (ORIGIN_URL's, or the request's with ORIGIN). */
  ASSERTION_AUDIENCE?: string;
  /** Secret: a private JWK or JWK Set (Ed25519 / P-256) that signs the identity assertion (edgekv token keygen). */
  IDENTITY_PRIVATE_JWK?: string;
  /** Secret: HS256 key of the identity assertion (>= 32 bytes), the shared-secret alternative. */
  IDENTITY_SECRET?: string;
}

/**
 * [env.auth] as `npm run cf-typegen` generates it (worker-configuration.d.ts): TOKENS_KV and no other namespace,
 * FAILED_AUTH_LIMITER and the vars (wrangler.toml documents each). Vars and the limiter stay optional: each has a default or is checked for.
 */
export type AuthEnv = Pick<Cloudflare.AuthEnv, "TOKENS_KV"> & Partial<Cloudflare.AuthEnv> & AuthExtras;
