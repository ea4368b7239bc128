// The splitter environment's extra bindings (wrangler.toml [env.splitter]). Its
// secrets are passed to `handle()` directly in these tests (see worker.test.ts).
declare namespace Cloudflare {
  interface Env {
    FAILED_STATUS_LIMITER: RateLimit;
  }
}
