/**
 * Expiry notices (docs/auth.md "Expiry notices"): once a day the cron sends a
 * `token.expiring` webhook for each token that entered the notice window
 * (TOKEN_EXPIRY_NOTICE_DAYS, default 7) since the last pass.
 *
 * Once per token without a write per token: a pass notifies the tokens whose
 * expiry lies in (last pass + window, now + window], and a token whose lifetime
 * is longer than the window enters that range in exactly one pass. Tokens that
 * live less than the window (the 1-hour default) are meant to expire: no notice.
 * Rotated-away tokens (rotatedTo) are skipped: their successor exists.
 *
 *   TOKENS_KV notice/expiry-pass   JSON {at: epoch ms}: the last pass (1 write a day)
 *
 * Cost: per tick 0 reads while this isolate saw today's pass, else 1; per pass
 * 1 list per 1,000 tokens (the key's expiration is in the list), 1 read per
 * token in range, 1 write.
 */
import { KvWriter, json, type KvBinding } from "../../shared/kv/index.ts";
import { int, obj, standard } from "../../shared/kv/lite.ts";
import { listPages } from "../../shared/kv/list.ts";
import type { TokenWriter } from "../../shared/tokens/write.ts";
import type { OriginFetch } from "../splitter/origin.ts";
import type { ControlEnv } from "./env.ts";
import { sendTokenEvents, type TokenEvent } from "./token-events.ts";

export const EXPIRY_PASS_KEY = "notice/expiry-pass";
export const DEFAULT_EXPIRY_NOTICE_DAYS = 7;
export const MAX_EXPIRY_NOTICE_DAYS = 365;
export const DAY_MS = 86_400_000;

const PassSchema = standard(obj({ at: int(0) }));

export interface ExpiryDeps {
  env: Pick<ControlEnv, "TOKENS_KV" | "ROLLOUT_KV" | "WEBHOOK_SECRET" | "WEBHOOK_URLS" | "TOKEN_EXPIRY_NOTICE_DAYS">;
  tokens: TokenWriter;
  fetch: OriginFetch;
  /** The tick's clock (scheduledTime). */
  now: number;
  sleep?: (ms: number) => Promise<void>;
  log?: (line: string) => void;
}

/** The window in ms from TOKEN_EXPIRY_NOTICE_DAYS; 0 is off; a bad value logs and means off (never a flood). */
export function noticeWindowMs(raw: string | undefined): number {
  const days = raw === undefined || raw === "" ? DEFAULT_EXPIRY_NOTICE_DAYS : Number(raw);
  return Number.isInteger(days) && days >= 0 && days <= MAX_EXPIRY_NOTICE_DAYS ? days * DAY_MS : -1;
}

// The last pass this isolate saw, per namespace: skips the marker read on the other ticks of the day.
const seen = new WeakMap<KvBinding, number>();

/** Runs the daily pass when a day has gone by since the last one. Returns the tokens notified, or null when no pass ran. Never throws. */
export async function expiryNotices(deps: ExpiryDeps): Promise<string[] | null> {
  const log = deps.log ?? ((l: string) => console.log(l));
  try {
    const window = noticeWindowMs(deps.env.TOKEN_EXPIRY_NOTICE_DAYS);
    if (window < 0) log(JSON.stringify({ level: "error", code: "bad_config", message: `TOKEN_EXPIRY_NOTICE_DAYS must be 0..${MAX_EXPIRY_NOTICE_DAYS}` }));
    if (window <= 0) return null;
    const kv = deps.env.TOKENS_KV;
    const memo = seen.get(kv);
    if (memo !== undefined && deps.now - memo < DAY_MS) return null;
    const marker = new KvWriter(kv, { codec: json(PassSchema) });
    const last = (await marker.get(EXPIRY_PASS_KEY, { fresh: true }))?.at;
    if (last !== undefined && deps.now - last < DAY_MS) {
      seen.set(kv, last);
      return null;
    }
    const from = last === undefined ? deps.now : last + window;
    const to = deps.now + window;
    const events: TokenEvent[] = [];
    for await (const page of listPages(deps.tokens.records)) {
      for (const key of page.keys) {
        // KV's expiration is the record's to within a second or two: a cheap filter before the read.
        const exp = (key.expiration ?? 0) * 1000;
        if (exp && (exp < from - 2000 || exp > to + 2000)) continue;
        const r = await deps.tokens.records.get(key.name, { fresh: true });
        if (!r || r.rotatedTo || r.expiresAt <= from || r.expiresAt > to || r.expiresAt - r.issuedAt <= window || r.expiresAt <= deps.now) continue;
        const at = new Date(r.expiresAt).toISOString();
        events.push({
          type: "token.expiring",
          id: `msg_edgekv_expiring_${r.id}`,
          data: { user: r.user, id: r.id, label: r.label, expiresAt: at },
          text: `edgekv token ${r.id} of ${r.user}${r.label ? ` (${r.label})` : ""} expires at ${at}: rotate it (edgekv token rotate --id ${r.id})`,
        });
      }
    }
    await sendTokenEvents(deps.env, events, { fetch: deps.fetch, now: deps.now, sleep: deps.sleep });
    // Remembered even when a receiver failed: one notice per token, never a retry storm.
    await marker.put(EXPIRY_PASS_KEY, { at: deps.now });
    seen.set(kv, deps.now);
    return events.map((e) => e.data.id as string);
  } catch (err) {
    log(JSON.stringify({ level: "error", code: "expiry_pass_failed", message: err instanceof Error ? err.message : String(err) }));
    return null;
  }
}
