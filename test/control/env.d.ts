// The control environment's extra bindings (wrangler.toml [env.control]). Its
// secrets are passed to `handle()` directly in these tests.
declare namespace Cloudflare {
  interface Env {
    FAILED_CONTROL_LIMITER: RateLimit;
  }
}
