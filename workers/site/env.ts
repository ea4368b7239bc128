/// <reference path="../../worker-configuration.d.ts" />
/** The site Worker's bindings: [env.site] as `npm run cf-typegen` generates it (only SITE_KV); index.ts builds its reader from them once per isolate. */
export type SiteEnv = Cloudflare.SiteEnv;
