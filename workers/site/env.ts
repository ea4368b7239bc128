/// <reference path="../../worker-configuration.d.ts" />
/**
 * The site Worker's bindings and vars: [env.site] as `npm run cf-typegen` generates it (only
 * SITE_KV), plus what wrangler.toml does not set, so cf-typegen cannot see it. config.ts parses
 * the preview settings.
 */
interface SiteExtras {
  /** Preview hostname suffix: `<version>.<PREVIEW_HOST>` serves that version (a wildcard route). Unset: off. */
  PREVIEW_HOST?: string;
  /** Secret signing preview links (`edgekv site preview`), at least 32 bytes. Unset or shorter: links are off. */
  PREVIEW_SECRET?: string;
  /** How long an isolate uses the live pointer before reading it again (ms, 0..5000; default 5000). `npm start` sets 0. */
  POINTER_TTL_MS?: string;
}

export type SiteEnv = Cloudflare.SiteEnv & SiteExtras;
