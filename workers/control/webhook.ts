import { MIN_SECRET_BYTES } from "../../shared/http/secrets.ts";
import type { OriginFetch } from "../splitter/origin.ts";
import { isWebhookUrl, type RolloutConfig } from "../splitter/model.ts";

/** Attempts per receiver within one tick, and the waits before the 2nd and 3rd. */
export const WEBHOOK_BACKOFF_MS = [1_000, 4_000];
/** Time allowed for a receiver's response headers, per attempt. */
export const WEBHOOK_TIMEOUT_MS = 5_000;

const encoder = new TextEncoder();
let warned = false;

/**
 * The HMAC key from WEBHOOK_SECRET, Standard Webhooks style: `whsec_` + base64
 * of at least MIN_SECRET_BYTES random bytes. Unset, malformed or short: null
 * (webhooks off), logged once per isolate, the secret never echoed.
 * @example webhookKey(env.WEBHOOK_SECRET) // Uint8Array(32) | null
 */
export function webhookKey(secret: string | undefined): Uint8Array | null {
  let key: Uint8Array | null = null;
  if (secret?.startsWith("whsec_")) {
    try {
      key = Uint8Array.from(atob(secret.slice(6)), (c) => c.charCodeAt(0));
    } catch {
      /* not base64: off, below */
    }
  }
  if (key && key.length >= MIN_SECRET_BYTES) return key;
  if (!warned) {
    warned = true;
    console.error(
      JSON.stringify({
        level: "error",
        code: "weak_secret",
        message: `WEBHOOK_SECRET ${secret ? `must be whsec_ + base64 of at least ${MIN_SECRET_BYTES} random bytes` : "is unset"}, so webhooks stay off; generate one with: echo "whsec_$(openssl rand -base64 32)" | npx wrangler secret put WEBHOOK_SECRET --env control`,
      }),
    );
  }
  return null;
}

/** Receivers: the config's `webhooks.urls`, then WEBHOOK_URLS (comma or space separated); invalid ones are skipped. */
export function webhookUrls(config: RolloutConfig, vars: string | undefined): string[] {
  const all = [...(config.webhooks?.urls ?? []), ...(vars ?? "").split(/[\s,]+/).filter(Boolean)];
  return [...new Set(all.filter(isWebhookUrl))];
}

const base64 = (b: ArrayBuffer) => btoa(String.fromCharCode(...new Uint8Array(b)));

/**
 * `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` (Standard Webhooks).
 * @example await signWebhook(key, "msg_1", 1795000000, '{"text":"hi"}') // "v1,K5o..."
 */
export async function signWebhook(key: Uint8Array, id: string, timestamp: number, body: string): Promise<string> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return `v1,${base64(await crypto.subtle.sign("HMAC", k, encoder.encode(`${id}.${timestamp}.${body}`)))}`;
}

export interface Delivery {
  url: string;
  ok: boolean;
  attempts: number;
  /** The last status or error. */
  last: string;
}

/**
 * POSTs one signed event to each receiver (in parallel), retrying a failure
 * with backoff within this call; the same id on every attempt, so receivers
 * can drop duplicates. Redirects are not followed (the signed body would go
 * elsewhere), response bodies are never read. Never throws.
 * @example await deliver(urls, "msg_12_0", body, key, fetch, sleep)
 */
export function deliver(
  urls: string[],
  id: string,
  body: string,
  key: Uint8Array,
  fetchFn: OriginFetch,
  sleep: (ms: number) => Promise<void>,
): Promise<Delivery[]> {
  return Promise.all(
    urls.map(async (url) => {
      let last = "";
      for (let attempt = 0; attempt <= WEBHOOK_BACKOFF_MS.length; attempt++) {
        if (attempt > 0) await sleep(WEBHOOK_BACKOFF_MS[attempt - 1]!);
        const ctl = new AbortController();
        const timer = setTimeout(() => ctl.abort(), WEBHOOK_TIMEOUT_MS);
        try {
          // Seconds, as the spec says; re-signed per attempt so receivers' replay windows hold.
          const ts = Math.floor(Date.now() / 1000);
          const headers = {
            "content-type": "application/json",
            "webhook-id": id,
            "webhook-timestamp": String(ts),
            "webhook-signature": await signWebhook(key, id, ts, body),
          };
          const res = await fetchFn(new Request(url, { method: "POST", headers, body, redirect: "manual", signal: ctl.signal }));
          await res.body?.cancel().catch(() => {});
          last = `HTTP ${res.status}`;
          if (res.ok) return { url, ok: true, attempts: attempt + 1, last };
        } catch (err) {
          last = ctl.signal.aborted ? "timeout" : String(err instanceof Error ? err.message : err).slice(0, 120);
        } finally {
          clearTimeout(timer);
        }
      }
      return { url, ok: false, attempts: WEBHOOK_BACKOFF_MS.length + 1, last };
    }),
  );
}
