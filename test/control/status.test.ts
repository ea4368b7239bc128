/**
 * The control Worker's status page in workerd with the real local KV: what it
 * shows (read from ROLLOUT_KV on each request), and its secret: off, weak,
 * in the URL, and the failed-attempt limiter checked before the secret.
 */
import { env, exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { FailureLimiter } from "../../shared/http/limiter.ts";
import { writeRollout, readRollout } from "../../shared/rollout/write.ts";
import { TokenWriter } from "../../shared/tokens/write.ts";
import { RATE_LIMIT_PERIOD_SECONDS, type ControlEnv } from "../../workers/control/env.ts";
import { handle, type Deps } from "../../workers/control/handler.ts";
import { CONFIG_KEY, HISTORY_PREFIX, type RolloutConfigInput } from "../../workers/splitter/model.ts";
import { cfg } from "../splitter/helpers.ts";
import { limiterWindowHeadroom } from "../helpers.ts";

const ST = "status-secret-for-tests-0123456789";
let clock = Date.parse("2026-11-20T10:00:00Z");
const now = () => clock;

/** The real ROLLOUT_KV with its reads counted. */
function counted(real: KVNamespace) {
  let reads = 0;
  const kv = new Proxy(real, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        if (prop === "get" || prop === "getWithMetadata" || prop === "list") reads++;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { kv, reads: () => reads };
}

function setup(extra: Partial<ControlEnv> = {}) {
  const c = counted(env.ROLLOUT_KV);
  const deps: Deps = { env: { ROLLOUT_KV: c.kv, TOKENS_KV: env.TOKENS_KV, ...extra }, tokens: new TokenWriter(env.TOKENS_KV), now };
  const get = (path = "/", init: RequestInit = {}) => handle(new Request(`https://control.test${path}`, init), deps);
  return { ...c, deps, get };
}

const write = (c: RolloutConfigInput | string) => env.ROLLOUT_KV.put(CONFIG_KEY, typeof c === "string" ? c : JSON.stringify(c));

beforeEach(async () => {
  clock = Date.parse("2026-11-20T10:00:00Z");
  await env.ROLLOUT_KV.delete(CONFIG_KEY);
  for (const k of (await env.ROLLOUT_KV.list({ prefix: HISTORY_PREFIX })).keys) await env.ROLLOUT_KV.delete(k.name);
});

describe("status endpoint", () => {
  it("is off (404) without STATUS_SECRET, 401 with a wrong secret", async () => {
    await write(cfg());
    expect((await setup().get("/__edgekv/status.json")).status).toBe(404);
    const t = setup({ STATUS_SECRET: ST });
    const res = await t.get("/__edgekv/status.json", { headers: { authorization: "Bearer wrong" } });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe("Bearer");
  });

  it("shows the effective config, schedule percentage and version as JSON and as HTML with SVG", async () => {
    await write(
      cfg({
        version: 7,
        percent: 0,
        schedule: [
          { at: "2026-11-20T09:00:00Z", percent: 10 },
          { at: "2026-11-20T09:30:00Z", percent: 20 },
          { at: "2026-11-20T11:00:00Z", percent: 80 },
        ],
      }),
    );
    const t = setup({ STATUS_SECRET: ST });
    const json = (await (await t.get("/__edgekv/status.json", { headers: { authorization: `Bearer ${ST}` } })).json()) as Record<string, unknown>;
    expect(json).toMatchObject({
      ok: true,
      version: 7,
      live: "blue",
      canary: "green",
      percentConfigured: 0,
      percentNow: 20,
      scheduleStep: 1,
      nextStep: { percent: 80 },
      error: null,
    });
    expect(json.config).toMatchObject({ version: 7, salt: "edgekv" });
    const html = await t.get("/__edgekv/status", { headers: { authorization: `Bearer ${ST}` } });
    expect(html.headers.get("content-type")).toContain("text/html");
    const page = await html.text();
    expect(page).toContain("<svg");
    expect(page).toContain("20%</b> to green");
    expect(page).toContain("2026-11-20T11:00:00Z: 80%");
    // The split bar (blue live, 20% green = 80 px of 400) and the schedule step line with a "now" marker.
    expect(page).toContain('<rect width="400" height="24" fill="blue"/><rect width="80" height="24" fill="green"/>');
    expect(page).toMatch(/<path d="M0 134H0V124H\d+V114H\d+V54H400" fill="none" stroke="green"/);
    expect(page).toMatch(/<path d="M\d+ 34V134" stroke="#999"\/>/);
  });

  it("answers 404 for other methods and paths under the prefix, without reading KV", async () => {
    await write(cfg({ version: 3, percent: 10 }));
    const t = setup({ STATUS_SECRET: ST });
    for (const [method, path] of [
      ["POST", "/__edgekv/status"],
      ["GET", "/__edgekv/statusx"],
      ["GET", "/__edgekv/status.html"],
    ] as const) {
      const res = await t.get(path, { method, headers: { authorization: `Bearer ${ST}` } });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    expect(t.reads()).toBe(0);
    const page = await (await t.get("/__edgekv/status/", { headers: { authorization: `Bearer ${ST}` } })).text();
    expect(page).toContain("10%</b> to green");
    expect(page).not.toContain("<path");
    expect(page.match(/<svg/g)).toHaveLength(1);
  });
});

describe("status endpoint: secrets in the URL, weak secrets, failed-attempt limiting", () => {
  beforeEach(() => limiterWindowHeadroom(), 70_000);
  const LIMIT = 10; // wrangler.toml [[env.control.ratelimits]] simple.limit
  let n = 0;
  const freshIp = () => `198.51.100.${n++ % 250}`;
  function limited(extra: Partial<ControlEnv> = { STATUS_SECRET: ST }, throwing = false) {
    const t = setup(extra);
    const calls: string[] = [];
    // Fault injection around the real local binding: count calls, or make them throw.
    const binding: RateLimit = {
      limit: async (o) => {
        calls.push(o.key);
        if (throwing) throw new Error("rate limiter unavailable (injected)");
        return env.FAILED_CONTROL_LIMITER.limit(o);
      },
    };
    t.deps.limiter = new FailureLimiter(binding, { periodSeconds: RATE_LIMIT_PERIOD_SECONDS, now });
    const status = (headers: Record<string, string>, query = "") => t.get(`/__edgekv/status.json${query}`, { headers });
    return { ...t, calls, status };
  }

  it("a secret in the query is refused, even the right one, with a message naming the header; it counts as a failure", async () => {
    await write(cfg());
    const t = limited();
    const ip = freshIp();
    const seq: number[] = [];
    for (const q of [`?token=${ST}`, `?TOKEN=${ST}`, `?access_token=${ST}`, `?secret=${ST}`, `?status_secret=${encodeURIComponent(ST)}`, `?a=1&token=${ST}`]) {
      for (const headers of [{}, { authorization: `Bearer ${ST}` }] as Record<string, string>[]) {
        const res = await t.status({ ...headers, "cf-connecting-ip": ip }, q);
        seq.push(res.status);
        const body = (await res.json()) as { message: string };
        if (res.status === 401) expect(body.message).toContain("send Authorization: Bearer <STATUS_SECRET>");
        expect(body.message).not.toContain(ST);
      }
    }
    // Counted as failures: the 11th is over the limit, and the 12th is refused before anything is compared.
    expect(seq).toEqual([...Array(LIMIT).fill(401), 429, 429]);
    expect(t.calls.length).toBe(LIMIT + 1);
    expect(t.reads()).toBe(0);
  });

  it(`after ${LIMIT} wrong secrets a client gets only 429s, the right secret included; others are unaffected`, async () => {
    await write(cfg());
    const t = limited();
    const ip = freshIp();
    const seq: number[] = [];
    for (let i = 0; i < LIMIT + 1; i++) seq.push((await t.status({ authorization: `Bearer wrong-${i}`, "cf-connecting-ip": ip })).status);
    for (let i = 0; i < 3; i++) seq.push((await t.status({ authorization: `Bearer ${ST}`, "cf-connecting-ip": ip })).status);
    expect(seq).toEqual([...Array(LIMIT).fill(401), 429, 429, 429, 429]);
    const res = await t.status({ authorization: `Bearer ${ST}`, "cf-connecting-ip": ip });
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(Number(res.headers.get("retry-after"))).toBeLessThanOrEqual(RATE_LIMIT_PERIOD_SECONDS);
    expect((await t.status({ authorization: `Bearer ${ST}`, "cf-connecting-ip": freshIp() })).status).toBe(200);
    // The window over, the client may try again.
    clock += RATE_LIMIT_PERIOD_SECONDS * 1000 + 1;
    expect((await t.status({ authorization: `Bearer ${ST}`, "cf-connecting-ip": ip })).status).toBe(200);
  });

  it("IPv6 clients are locked out per /64; without CF-Connecting-IP, per presented secret", async () => {
    await write(cfg());
    const t = limited();
    for (let i = 0; i <= LIMIT; i++) await t.status({ authorization: "Bearer wrong", "cf-connecting-ip": `2001:db8:5:${n}::${i + 1}` });
    expect((await t.status({ authorization: `Bearer ${ST}`, "cf-connecting-ip": `2001:db8:5:${n}:ffff::9` })).status).toBe(429);
    n++;
    const bad = `Bearer wrong-noip-${n}`;
    for (let i = 0; i < LIMIT; i++) expect((await t.status({ authorization: bad })).status).toBe(401);
    expect((await t.status({ authorization: bad })).status).toBe(429);
    expect((await t.status({ authorization: `Bearer other-${n}` })).status).toBe(401);
    expect((await t.status({ authorization: `Bearer ${ST}` })).status).toBe(200);
  });

  it("only failures count, and a limiter that throws opens nothing", async () => {
    await write(cfg());
    const ok = limited();
    const ip = freshIp();
    for (let i = 0; i < LIMIT * 2; i++) expect((await ok.status({ authorization: `Bearer ${ST}`, "cf-connecting-ip": ip })).status).toBe(200);
    expect(ok.calls).toEqual([]);
    const broken = limited({ STATUS_SECRET: ST }, true);
    for (let i = 0; i < LIMIT + 3; i++) expect((await broken.status({ authorization: "Bearer wrong", "cf-connecting-ip": ip })).status).toBe(401);
    expect((await broken.status({ authorization: `Bearer ${ST}`, "cf-connecting-ip": ip })).status).toBe(200);
  });

  it("a STATUS_SECRET shorter than 32 bytes turns nothing on: 503 weak_secret, even with that secret", async () => {
    await write(cfg());
    for (const weak of ["Zq7", "right", "S".repeat(31)]) {
      const t = limited({ STATUS_SECRET: weak });
      for (const headers of [{ authorization: `Bearer ${weak}` }, {}] as Record<string, string>[]) {
        const res = await t.status(headers);
        expect(res.status).toBe(503);
        const body = (await res.json()) as { error: string; message: string };
        expect(body).toMatchObject({ error: "weak_secret" });
        expect(body.message).toContain("openssl rand -base64 32 | npx wrangler secret put STATUS_SECRET --env control");
        expect(body.message).not.toContain(weak);
      }
      expect(t.reads()).toBe(0);
    }
  });
});

describe("status page: what KV holds, not what one isolate holds", () => {
  it("reports an invalid stored config and the recent history, newest first", async () => {
    const kv = env.ROLLOUT_KV;
    await writeRollout(kv, await readRollout(kv), cfg(), { action: "init", by: "alice", now: clock });
    await writeRollout(kv, await readRollout(kv), cfg({ percent: 30 }), { action: "set 30%", by: "bob", now: clock });
    const t = setup({ STATUS_SECRET: ST });
    const ok = (await (await t.get("/__edgekv/status.json", { headers: { authorization: `Bearer ${ST}` } })).json()) as Record<string, unknown>;
    expect(ok).toMatchObject({ ok: true, error: null, version: 2, percentNow: 30 });
    expect(ok.history).toMatchObject([
      { version: 2, by: "bob", action: "set 30%", changes: ["~ in force: 10% -> 30% to green", "~ percent: 10 -> 30"] },
      { version: 1, by: "alice", action: "init" },
    ]);
    const page = await (await t.get("/__edgekv/status", { headers: { authorization: `Bearer ${ST}` } })).text();
    expect(page).toContain("v2 2026-11-20T10:00:00.000Z by bob: set 30%");
    for (const bad of ["{ not json", JSON.stringify({ ...cfg({ version: 3 }), percent: 150 })]) {
      await write(bad);
      const st = (await (await t.get("/__edgekv/status.json", { headers: { authorization: `Bearer ${ST}` } })).json()) as Record<string, unknown>;
      expect(st).toMatchObject({ ok: false, version: null });
      expect(st.error).toMatch(/JSON|percent/);
    }
  });

  it("escapes what the config and history hold in the HTML", async () => {
    const kv = env.ROLLOUT_KV;
    await writeRollout(kv, await readRollout(kv), cfg(), { action: "<script>alert(1)</script>", by: '"><img src=x>', now: clock });
    const page = await (await setup({ STATUS_SECRET: ST }).get("/__edgekv/status", { headers: { authorization: `Bearer ${ST}` } })).text();
    expect(page).not.toContain("<script>");
    expect(page).not.toContain("<img");
  });
});

// GlobalProps.mainModule is project-wide, so type the export here.
const worker = (exports as unknown as { default: { fetch(r: Request): Promise<Response> } }).default;

describe("the deployed entry point (exports.default)", () => {
  it("keeps its endpoints off without their secrets, and proxies nothing", async () => {
    for (const path of ["/__edgekv/status.json", "/__edgekv/status", "/__edgekv/tokens", "/", "/app/x"]) {
      expect((await worker.fetch(new Request(`https://control.test${path}`, { method: path.includes("tokens") ? "POST" : "GET" }))).status, path).toBe(404);
    }
  });
});
