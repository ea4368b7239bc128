// The auth environment's extra bindings (wrangler.toml [env.auth]).
declare namespace Cloudflare {
  interface Env {
    FAILED_AUTH_LIMITER: RateLimit;
    ORIGIN_URL: string;
    PUBLIC_PATHS: string;
  }
}
