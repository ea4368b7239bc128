/**
 * Issue 24, expiry notices, in workerd on the real local TOKENS_KV: the daily
 * pass (one list, gated on a stored marker and this isolate's memory), one
 * `token.expiring` webhook per token, once, and what it costs in KV.
 */
import { env } from "cloudflare:workers";
import { createScheduledController } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { TokenWriter } from "../../shared/tokens/write.ts";
import { DAY_MS, EXPIRY_PASS_KEY, expiryNotices, noticeWindowMs } from "../../workers/control/expiry.ts";
import worker from "../../workers/control/index.ts";
import { signWebhook, webhookKey } from "../../workers/control/webhook.ts";
import { countingKv } from "../auth/helpers.ts";
import { uniqueUser } from "./helpers.ts";

const HOOK = "https://hooks.test/edgekv";
const WEBHOOK_SECRET = `whsec_${btoa(String.fromCharCode(...new Uint8Array(32).map((_, i) => i * 5 + 9)))}`;
const H = 3600;

/** A fresh binding (so a fresh isolate memory), counted; a webhook receiver. */
function world(start: number, vars: { TOKEN_EXPIRY_NOTICE_DAYS?: string } = {}) {
  const c = countingKv();
  const kv = c.kv as unknown as KVNamespace;
  const hooks: { headers: Record<string, string>; body: string }[] = [];
  const logs: string[] = [];
  const pass = (now: number) =>
    expiryNotices({
      env: { TOKENS_KV: kv, ROLLOUT_KV: env.ROLLOUT_KV, WEBHOOK_SECRET, WEBHOOK_URLS: HOOK, ...vars },
      tokens: new TokenWriter(c.kv, { now: () => now }),
      fetch: async (req) => {
        hooks.push({ headers: Object.fromEntries(req.headers), body: await req.text() });
        return new Response(null, { status: 204 });
      },
      now,
      sleep: async () => {},
      log: (l) => logs.push(l),
    });
  return { calls: c.calls, hooks, logs, pass, writer: new TokenWriter(env.TOKENS_KV, { now: () => start }) };
}

const mine = (ids: string[] | null, wanted: string[]) => (ids ?? []).filter((id) => wanted.includes(id)).sort();

describe("expiry notices (workers/control/expiry.ts)", () => {
  it("a daily pass notifies each long-lived token once as it enters the window, with one list and one write", async () => {
    await env.TOKENS_KV.delete(EXPIRY_PASS_KEY);
    const T = Date.now();
    const w = world(T);
    const user = uniqueUser("exp");
    const a = await w.writer.issue({ user, ttlSeconds: 10 * 24 * H, label: "deploy" }); // expires T+10d
    const f = await w.writer.issue({ user, ttlSeconds: 12 * 24 * H }); // T+12d
    const c = await w.writer.issue({ user, ttlSeconds: 30 * 24 * H }); // T+30d: not this week
    const short = await w.writer.issue({ user, ttlSeconds: H }); // 1 h: meant to expire, no notice
    const rotated = await w.writer.issue({ user, ttlSeconds: 9 * 24 * H });
    const successor = await w.writer.rotate(rotated.hash, 8 * 24 * H); // old cut to T+8d... rotated away: no notice
    const revoked = await w.writer.issue({ user, ttlSeconds: 9 * 24 * H });
    await w.writer.revokeHash(revoked.hash);
    const ids = [a, f, c, short, rotated, successor, revoked].map((t) => t.record.id);

    // First pass, 4 days on: a (T+10d) and the successor (T+9d) are within 7 days; f (T+12d) not yet;
    // the rotated-away token (T+8d) has a successor, so no notice.
    const day4 = T + 4 * DAY_MS;
    const calls0 = w.calls.length;
    expect(mine(await w.pass(day4), ids)).toEqual([a.record.id, successor.record.id].sort());
    const passCalls = w.calls.slice(calls0);
    expect(passCalls.filter((x) => x === "list").length).toBeGreaterThanOrEqual(1);
    expect(passCalls.filter((x) => x === "put" || x === "delete")).toEqual(["put"]); // the marker only
    const hook = w.hooks.find((h) => h.body.includes(a.record.id))!;
    const event = JSON.parse(hook.body) as { type: string; data: Record<string, string> };
    expect(event).toMatchObject({
      type: "token.expiring",
      data: { user, id: a.record.id, label: "deploy", expiresAt: new Date(a.record.expiresAt).toISOString() },
    });
    expect(hook.body).not.toContain(a.hash);
    expect(hook.headers["webhook-signature"]).toBe(
      await signWebhook(webhookKey(WEBHOOK_SECRET)!, hook.headers["webhook-id"]!, Number(hook.headers["webhook-timestamp"]), hook.body),
    );

    // Every other tick that day: nothing, and no KV call at all in this isolate.
    const calls1 = w.calls.length;
    for (const m of [1, 2, 60, 23 * 60]) expect(await w.pass(day4 + m * 60_000)).toBeNull();
    expect(w.calls.length).toBe(calls1);
    // A fresh isolate reads the marker once a tick, and does not list.
    const w2 = world(T);
    expect(await w2.pass(day4 + 60_000)).toBeNull();
    expect(w2.calls).toEqual(["getWithMetadata"]);

    // Next day: f enters the window; a is not sent again.
    const day5 = day4 + DAY_MS;
    expect(mine(await w2.pass(day5), ids)).toEqual([f.record.id]);
    // Later days: nothing more for these (c enters at T+23d).
    expect(mine(await w2.pass(day5 + DAY_MS), ids)).toEqual([]);
    expect(mine(await w2.pass(T + 23 * DAY_MS + 1000), ids)).toEqual([c.record.id]);
    const sent = w.hooks
      .concat(w2.hooks)
      .map((h) => JSON.parse(h.body) as { data: { id: string } })
      .filter((e) => ids.includes(e.data.id));
    expect(sent.map((e) => e.data.id).sort()).toEqual([a.record.id, successor.record.id, f.record.id, c.record.id].sort());
  });

  it("TOKEN_EXPIRY_NOTICE_DAYS: 0 is off (no KV call), a bad value is off and logged, the default is 7", async () => {
    expect(noticeWindowMs(undefined)).toBe(7 * DAY_MS);
    expect(noticeWindowMs("")).toBe(7 * DAY_MS);
    expect(noticeWindowMs("30")).toBe(30 * DAY_MS);
    for (const bad of ["-1", "1.5", "x", "366", "1e9"]) expect(noticeWindowMs(bad), bad).toBe(-1);
    for (const v of ["0", "nope"]) {
      const w = world(Date.now(), { TOKEN_EXPIRY_NOTICE_DAYS: v });
      expect(await w.pass(Date.now() + 40 * DAY_MS)).toBeNull();
      expect(w.calls).toEqual([]);
      expect(w.logs.length).toBe(v === "0" ? 0 : 1);
    }
  });

  it("runs from the Worker's scheduled handler beside the guard's tick", async () => {
    await env.TOKENS_KV.delete(EXPIRY_PASS_KEY);
    const now = Date.now();
    await worker.scheduled(createScheduledController({ scheduledTime: now, cron: "* * * * *" }), { ...env, WEBHOOK_URLS: "" } as never);
    expect(await env.TOKENS_KV.get(EXPIRY_PASS_KEY, "json")).toEqual({ at: now });
  });
});
