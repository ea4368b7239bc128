/**
 * Token lifecycle webhooks (`token.leaked`, `token.expiring`): Standard
 * Webhooks signed with WEBHOOK_SECRET, to WEBHOOK_URLS and the rollout config's
 * `webhooks.urls`, as the rollout events (webhook.ts). Never carries a token or
 * its hash: user, id and the facts only.
 */
import { readConfig } from "../../shared/rollout/write.ts";
import type { OriginFetch } from "../splitter/origin.ts";
import type { ControlEnv } from "./env.ts";
import { deliver, webhookKey, webhookUrls } from "./webhook.ts";

export interface TokenEvent {
  type: "token.leaked" | "token.expiring";
  /** Stable per token and event, so a receiver can drop a duplicate. */
  id: string;
  data: Record<string, string | number>;
  text: string;
}

/**
 * Sends each event to every receiver (deliver(): retries, no redirects); does nothing without
 * a strong WEBHOOK_SECRET or a receiver. Returns how many events were sent. Never throws.
 */
export async function sendTokenEvents(
  env: Pick<ControlEnv, "ROLLOUT_KV" | "WEBHOOK_SECRET" | "WEBHOOK_URLS">,
  events: TokenEvent[],
  deps: { fetch: OriginFetch; now: number; sleep?: (ms: number) => Promise<void> },
): Promise<number> {
  const key = webhookKey(env.WEBHOOK_SECRET);
  if (!key || !events.length) return 0;
  const config = await readConfig(env.ROLLOUT_KV).catch(() => null);
  const urls = webhookUrls(config ?? ({} as Parameters<typeof webhookUrls>[0]), env.WEBHOOK_URLS);
  if (!urls.length) return 0;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (const e of events) {
    const body = JSON.stringify({ type: e.type, timestamp: new Date(deps.now).toISOString(), data: e.data, text: e.text });
    await deliver(urls, e.id, body, key, deps.fetch, sleep);
  }
  return events.length;
}
