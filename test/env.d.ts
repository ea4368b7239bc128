// Bindings the workerd test projects see (wrangler.toml per environment, plus
// TEST_KV for the library tests). Worker-specific additions go in
// test/<worker>/env.d.ts (interfaces merge).
declare namespace Cloudflare {
  interface Env {
    TEST_KV: KVNamespace;
    SITE_KV: KVNamespace;
    ROLLOUT_KV: KVNamespace;
    TOKENS_KV: KVNamespace;
  }
}
