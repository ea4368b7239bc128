/// <reference path="../../worker-configuration.d.ts" />
/**
 * The site Worker's bindings and vars: [env.site] as `npm run cf-typegen` generates it (only
 * SITE_KV), plus what wrangler.toml does not set, so cf-typegen cannot see it. index.ts reads
 * them once per isolate.
 */
import { secretState } from "../../shared/http/secrets.ts";
import { POINTER_FRESH_MS } from "./store.ts";

interface SiteExtras {
  /** Preview hostname suffix: `<version>.<PREVIEW_HOST>` serves that version (a wildcard route). Unset: off. */
  PREVIEW_HOST?: string;
  /** Secret signing preview links (`edgekv site preview`), at least 32 bytes. Unset or shorter: links are off. */
  PREVIEW_SECRET?: string;
  /** How long an isolate uses the live pointer before reading it again (ms, 0..5000; default 5000). `npm start` sets 0. */
  POINTER_TTL_MS?: string;
}

export type SiteEnv = Cloudflare.SiteEnv & SiteExtras;

/**
 * The preview settings of `env` (serve.ts `SiteDeps.preview`). A weak secret is logged once and links stay off.
 * @example previewConfig({ PREVIEW_HOST: "preview.example.com" } as SiteEnv) // { host: "preview.example.com", secret: undefined }
 */
export function previewConfig(env: SiteEnv): { host: string | undefined; secret: string | undefined } {
  const state = secretState("PREVIEW_SECRET", "site", env.PREVIEW_SECRET);
  return { host: env.PREVIEW_HOST?.trim().toLowerCase() || undefined, secret: state.kind === "ok" ? state.secret : undefined };
}

/**
 * POINTER_TTL_MS as a number: 0..POINTER_FRESH_MS, anything else the default (POINTER_FRESH_MS).
 * @example pointerTtlMs("0") // 0
 */
export function pointerTtlMs(raw: string | undefined): number {
  const n = Number(raw);
  return raw !== undefined && raw.trim() !== "" && Number.isInteger(n) && n >= 0 && n <= POINTER_FRESH_MS ? n : POINTER_FRESH_MS;
}
