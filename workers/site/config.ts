/** The site Worker's vars and secrets, parsed (env.ts types them); index.ts reads them once per isolate. */
import { secretState } from "../../shared/http/secrets.ts";
import type { SiteEnv } from "./env.ts";
import { POINTER_FRESH_MS } from "./store.ts";

/**
 * The preview settings of `env` (handler.ts `Deps.preview`). A weak secret is logged once and links stay off.
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
