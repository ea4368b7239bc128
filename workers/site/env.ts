/** The site Worker's bindings (wrangler.toml); index.ts builds its reader from them once per isolate. */
export interface SiteEnv {
  SITE_KV: KVNamespace;
}
