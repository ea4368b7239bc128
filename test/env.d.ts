// Bindings the workerd test projects see, from wrangler.toml and vitest.config.ts.
declare namespace Cloudflare {
  interface Env {
    TEST_KV: KVNamespace;
  }
}
