import { env, exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { FailureLimiter } from "../../shared/http/limiter.ts";
import { parseKvServerTiming } from "../../shared/kv/index.ts";
import { bucketOf } from "../../workers/splitter/bucket.ts";
import { CONFIG_KEY, type RolloutConfigInput } from "../../workers/splitter/model.ts";
import type { SplitterEnv } from "../../workers/splitter/env.ts";
import { handle, type Deps } from "../../workers/splitter/handler.ts";
import { signOverride } from "../../workers/splitter/override.ts";
import { ConfigSource } from "../../workers/splitter/store.ts";
import { STATUS_RATE_LIMIT_PERIOD_SECONDS } from "../../workers/splitter/status.ts";
import { BLUE, GREEN, cfg, origins } from "./fixtures.ts";
import { limiterWindowHeadroom } from "../limiter-window.ts";

// Tests here count failures up to the limit: never across a limiter window boundary.
beforeEach(() => limiterWindowHeadroom(), 70_000);

const TTL = 1_000;
// Secrets of at least MIN_SECRET_BYTES (shorter ones turn nothing on, see "weak secrets" below).
const ST = "status-secret-for-tests-0123456789";
const OV = "override-secret-for-tests-0123456789";
let clock = Date.parse("2026-11-20T10:00:00Z");
const now = () => clock;

/** KV that can be broken on demand; every call goes to the real binding otherwise. */
function breakable(real: KVNamespace) {
  let broken = false;
  let reads = 0;
  const kv = new Proxy(real, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        if (prop === "get" || prop === "getWithMetadata") reads++;
        if (broken) throw new Error("KV GET failed: 500 Internal Server Error");
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { kv, breakKv: (b: boolean) => (broken = b), reads: () => reads };
}

function setup(extra: Partial<SplitterEnv> = {}, behave?: Parameters<typeof origins>[0]) {
  const b = breakable(env.ROLLOUT_KV);
  const logs: string[] = [];
  const source = new ConfigSource(b.kv, { ttlMs: TTL, now, log: (l) => logs.push(l) });
  const o = origins(behave);
  const deps: Deps = { env: { ROLLOUT_KV: b.kv, ...extra }, source, fetch: o.fetch, now };
  const get = (path = "/", init: RequestInit = {}) => handle(new Request(`https://app.test${path}`, init), deps);
  return { ...b, ...o, source, deps, logs, get };
}

const write = (c: RolloutConfigInput | string) => env.ROLLOUT_KV.put(CONFIG_KEY, typeof c === "string" ? c : JSON.stringify(c));

beforeEach(async () => {
  clock = Date.parse("2026-11-20T10:00:00Z");
  await env.ROLLOUT_KV.delete(CONFIG_KEY);
});

describe("routing through handle() with real local KV", () => {
  it("mints the sticky id before routing: the first response's bucket is the cookie's bucket", async () => {
    await write(cfg({ percent: 50, salt: "s1" }));
    const t = setup();
    const res = await t.get("/page?q=1");
    expect(res.status).toBe(200);
    const setCookie = res.headers.get("set-cookie")!;
    expect(setCookie).toMatch(/^edgekv_id=[A-Za-z0-9_-]{22}; Path=\/; Max-Age=2592000; HttpOnly; Secure; SameSite=Lax$/);
    const id = /^edgekv_id=([^;]+)/.exec(setCookie)![1]!;
    const bucket = bucketOf("s1", id);
    expect(res.headers.get("x-edgekv-bucket")).toBe(String(bucket));
    expect(res.headers.get("x-edgekv-color")).toBe(bucket < 5000 ? "green" : "blue");
    expect(await res.text()).toBe(`hello from ${bucket < 5000 ? GREEN : BLUE}`);
    // The origin already saw the id the cookie will carry.
    expect(t.seen[0]!.headers.cookie).toBe(`edgekv_id=${id}`);
    expect(t.seen[0]!.url).toMatch(/\/page\?q=1$/);
  });

  it("stays sticky across requests and as the percentage rises, and costs 0 KV reads in steady state", async () => {
    await write(cfg({ percent: 20 }));
    const t = setup();
    const ids = Array.from({ length: 300 }, (_, i) => `visitor-${i}-abcdef`);
    const colorAt = async (id: string) => (await t.get("/", { headers: { cookie: `edgekv_id=${id}` } })).headers.get("x-edgekv-color");
    const first = await Promise.all(ids.map(colorAt));
    const again = await Promise.all(ids.map(colorAt));
    expect(again).toEqual(first);
    const share = first.filter((c) => c === "green").length / ids.length;
    expect(share).toBeGreaterThan(0.1);
    expect(share).toBeLessThan(0.3);

    const steady = await t.get("/", { headers: { cookie: "edgekv_id=visitor-0-abcdef" } });
    expect(steady.headers.get("set-cookie")).toBeNull();
    expect(parseKvServerTiming(steady.headers.get("server-timing"))).toMatchObject({ reads: 0, hits: 1 });

    await write(cfg({ version: 2, percent: 80 }));
    clock += TTL + 1;
    const later = await Promise.all(ids.map(colorAt));
    first.forEach((c, i) => {
      if (c === "green") expect(later[i]).toBe("green");
    });
    expect(later.filter((c) => c === "green").length).toBeGreaterThan(first.filter((c) => c === "green").length);
  });

  it("a change is served after the isolate TTL, not before", async () => {
    await write(cfg({ percent: 0 }));
    const t = setup();
    expect((await t.get("/")).headers.get("x-edgekv-config-version")).toBe("1");
    await write(cfg({ version: 2, percent: 100 }));
    clock += TTL - 1;
    expect((await t.get("/")).headers.get("x-edgekv-config-version")).toBe("1");
    clock += 2;
    const res = await t.get("/");
    expect(res.headers.get("x-edgekv-config-version")).toBe("2");
    expect(res.headers.get("x-edgekv-color")).toBe("green");
  });

  it("header stickiness buckets by the header's value", async () => {
    await write(cfg({ percent: 50, sticky: { by: "header", header: "x-user" } }));
    const t = setup();
    const res = await t.get("/", { headers: { "x-user": "alice" } });
    expect(res.headers.get("x-edgekv-bucket")).toBe(String(bucketOf("edgekv", "h:alice")));
    expect(res.headers.get("set-cookie")).toBeNull();
  });

  it("a signed override forces its colour; a forged one is ignored", async () => {
    await write(cfg({ percent: 0 }));
    const t = setup({ OVERRIDE_SECRET: OV });
    const good = await signOverride(OV, "green", Math.floor(clock / 1000) + 60);
    const forced = await t.get("/", { headers: { "x-edgekv-override": good } });
    expect(forced.headers.get("x-edgekv-color")).toBe("green");
    expect(forced.headers.get("x-edgekv-reason")).toBe("override");
    const forged = await t.get("/", { headers: { "x-edgekv-override": `green.${Math.floor(clock / 1000) + 60}.AAAA` } });
    expect(forged.headers.get("x-edgekv-color")).toBe("blue");
    expect(forged.headers.get("x-edgekv-reason")).toBe("bucket");
  });

  it("forwards method, body and headers; sets X-Forwarded-* (For = CF-Connecting-IP, never the client's chain); drops hop-by-hop headers", async () => {
    await write(cfg({ percent: 0 }));
    const t = setup();
    const res = await t.get("/api/items?x=1&y=2", {
      method: "POST",
      body: "payload-123",
      headers: {
        "content-type": "text/plain",
        "cf-connecting-ip": "203.0.113.9",
        "x-forwarded-for": "198.51.100.1",
        "keep-alive": "timeout=5",
        connection: "x-secret-hop",
        "x-secret-hop": "1",
        te: "trailers",
        "x-app": "kept",
      },
    });
    expect(res.status).toBe(200);
    const seen = t.seen[0]!;
    expect(seen.method).toBe("POST");
    expect(seen.body).toBe("payload-123");
    expect(seen.url).toBe(`${BLUE}/api/items?x=1&y=2`);
    expect(seen.headers).toMatchObject({
      "x-forwarded-host": "app.test",
      "x-forwarded-proto": "https",
      "x-forwarded-for": "203.0.113.9",
      "x-app": "kept",
    });
    for (const h of ["keep-alive", "x-secret-hop", "te", "host"]) expect(seen.headers).not.toHaveProperty(h);
  });

  it("keeps an origin's path prefix", async () => {
    await write(cfg({ percent: 0, origins: { blue: "https://blue.test/app/", green: GREEN } }));
    const t = setup();
    await t.get("/x/y?z");
    expect(t.seen[0]!.url).toBe("https://blue.test/app/x/y?z");
  });
});

describe("bad config, missing config, KV failure: last good config, never a 500", () => {
  it.each([
    ["invalid JSON", "{ not json"],
    ["percent 150", JSON.stringify(cfg({ version: 2, percent: 150 }))],
    ["unknown colour", JSON.stringify({ ...cfg({ version: 2 }), live: "red" })],
    ["bad URL", JSON.stringify(cfg({ version: 2, origins: { blue: "not a url", green: GREEN } }))],
    ["a deleted key", null],
  ])("%s in KV keeps the last good config, logs and reports the error", async (_name, bad) => {
    await write(cfg({ percent: 100 }));
    const t = setup({ STATUS_SECRET: ST });
    expect((await t.get("/")).headers.get("x-edgekv-color")).toBe("green");
    if (bad === null) await env.ROLLOUT_KV.delete(CONFIG_KEY);
    else await write(bad);
    clock += TTL + 1;
    for (let i = 0; i < 3; i++) {
      const res = await t.get("/");
      expect(res.status).toBe(200);
      expect(res.headers.get("x-edgekv-color")).toBe("green");
      expect(res.headers.get("x-edgekv-config-version")).toBe("1");
    }
    expect(t.logs).toHaveLength(1);
    expect(t.logs[0]).toContain('"code":"rollout_config"');
    const status = (await (await t.get("/__edgekv/status.json", { headers: { authorization: `Bearer ${ST}` } })).json()) as Record<string, unknown>;
    expect(status).toMatchObject({ ok: false, servingLastGood: true, version: 1, percentNow: 100 });
    expect((status.lastError as { message: string }).message).toMatch(/invalid|JSON|no rollout config/);

    // Fixed config: served again after the TTL.
    await write(cfg({ version: 3, percent: 0 }));
    clock += TTL + 1;
    expect((await t.get("/")).headers.get("x-edgekv-config-version")).toBe("3");
  });

  it("while KV is down: last good config, one KV read per TTL, not per request", async () => {
    await write(cfg({ percent: 100 }));
    const t = setup();
    await t.get("/");
    t.breakKv(true);
    clock += TTL + 1;
    const before = t.reads();
    for (let i = 0; i < 5; i++) {
      const res = await t.get("/");
      expect(res.status).toBe(200);
      expect(res.headers.get("x-edgekv-color")).toBe("green");
    }
    expect(t.reads() - before).toBe(1);
    expect(t.source.lastError?.message).toContain("KV GET failed");
    t.breakKv(false);
    clock += TTL + 1;
    await t.get("/");
    expect(t.source.failing).toBe(false);
  });

  it("no config ever: 503 with a clear body (not 0%, not 500); the reason goes to the logs only", async () => {
    await write(cfg({ percent: 150 }));
    const t = setup();
    const logged = vi.spyOn(console, "error");
    const res = await t.get("/");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(res.headers.get("x-edgekv-reason")).toBe("fallback");
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).toBe("no_rollout_config");
    expect(body.message).not.toContain("percent");
    expect(body.message).not.toContain("rollout/config");
    expect(logged.mock.calls.flat().join("\n")).toContain("percent");
    logged.mockRestore();
    expect(t.seen).toHaveLength(0);
  });

  it("no config ever, FALLBACK_ORIGIN set: the fallback serves", async () => {
    const t = setup({ FALLBACK_ORIGIN: "https://fallback.test" });
    const res = await t.get("/x");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("hello from https://fallback.test");
    expect(res.headers.get("x-edgekv-reason")).toBe("fallback");
  });

  it("no config ever, FALLBACK_ORIGIN set: a path spelling another host still goes to the fallback", async () => {
    const t = setup({ FALLBACK_ORIGIN: "https://fallback.test/base" });
    for (const path of ["//evil.test/x", "/%2F%2Fevil.test/x", "/\\evil.test/x"]) {
      const res = await handle(new Request(`https://app.test${path}`), t.deps);
      expect([200, 400], path).toContain(res.status);
    }
    expect(t.seen.map((r) => new URL(r.url).origin)).toEqual(["https://fallback.test", "https://fallback.test"]);
    for (const r of t.seen) expect(new URL(r.url).pathname).toMatch(/^\/base\/(?![/\\])/);
  });

  it("KV down before any config was read: one KV read per TTL, not per request", async () => {
    const t = setup();
    t.breakKv(true);
    for (let i = 0; i < 5; i++) expect((await t.get("/")).status).toBe(503);
    expect(t.reads()).toBe(1);
    expect(t.logs).toHaveLength(1);
    clock += TTL + 1;
    await write(cfg({ percent: 100 }));
    t.breakKv(false);
    expect((await t.get("/")).headers.get("x-edgekv-color")).toBe("green");
    expect(t.reads()).toBe(2);
    expect(t.source.failing).toBe(false);
  });

  it("KV down before any config was read: 503, not 500", async () => {
    const t = setup();
    t.breakKv(true);
    const logged = vi.spyOn(console, "error");
    const res = await t.get("/");
    expect(res.status).toBe(503);
    expect(((await res.json()) as { message: string }).message).not.toContain("KV GET failed");
    expect(logged.mock.calls.flat().join("\n")).toContain("KV GET failed");
    logged.mockRestore();
  });
});

describe("origin failures and failover", () => {
  it("unreachable origin: 502 with a clear body", async () => {
    await write(cfg({ percent: 0 }));
    const t = setup({}, () => {
      throw new TypeError("Network connection lost.");
    });
    const logged = vi.spyOn(console, "error");
    const res = await t.get("/");
    expect(res.status).toBe(502);
    // The client learns the colour, not the origin's URL or the fetch error; the logs have both.
    expect(await res.json()).toEqual({ error: "origin_unreachable", message: "the blue origin could not be reached" });
    expect(logged.mock.calls.flat().join("\n")).toContain("https://blue.test: Network connection lost.");
    logged.mockRestore();
    expect(res.headers.get("x-edgekv-color")).toBe("blue");
  });

  it("slow origin: 504 after timeoutMs", async () => {
    await write(cfg({ percent: 0, timeoutMs: 100 }));
    const t = setup({}, (_o, req) => new Promise<Response>((_r, reject) => req.signal.addEventListener("abort", () => reject(new Error("aborted")))));
    const res = await t.get("/");
    expect(res.status).toBe(504);
    expect(await res.json()).toEqual({ error: "origin_timeout", message: "the blue origin did not answer in time" });
  });

  it.each([
    ["a 5xx", () => new Response("down", { status: 503 })],
    ["a connection error", () => Promise.reject(new Error("connect ECONNREFUSED"))],
  ])("failover: %s from blue is retried once on green for a GET", async (_name, fail) => {
    await write(cfg({ percent: 0, failover: true }));
    const t = setup({}, (origin) => (origin === BLUE ? fail() : undefined));
    const res = await t.get("/");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(`hello from ${GREEN}`);
    expect(res.headers.get("x-edgekv-color")).toBe("green");
    expect(res.headers.get("x-edgekv-reason")).toBe("failover");
    expect(t.seen.map((s) => new URL(s.url).origin)).toEqual([BLUE, GREEN]);
  });

  it("no failover for a POST with a body, nor when failover is off", async () => {
    await write(cfg({ percent: 0, failover: true }));
    const t = setup({}, (origin) => (origin === BLUE ? new Response("down", { status: 500 }) : undefined));
    const post = await t.get("/", { method: "POST", body: "x" });
    expect(post.status).toBe(500);
    expect(post.headers.get("x-edgekv-reason")).toBe("bucket");
    await write(cfg({ version: 2, percent: 0, failover: false }));
    clock += TTL + 1;
    const get = await t.get("/");
    expect(get.status).toBe(500);
    expect(t.seen).toHaveLength(2);
  });

  it("both colours down: the second failure is answered", async () => {
    await write(cfg({ percent: 0, failover: true }));
    const t = setup({}, () => new Response("down", { status: 503 }));
    const res = await t.get("/");
    expect(res.status).toBe(503);
    expect(res.headers.get("x-edgekv-color")).toBe("green");
    expect(res.headers.get("x-edgekv-reason")).toBe("failover");
  });
});

describe("status endpoint", () => {
  it("is off (404) without STATUS_SECRET, 401 with a wrong secret", async () => {
    await write(cfg());
    expect((await setup().get("/__edgekv/status.json")).status).toBe(404);
    const t = setup({ STATUS_SECRET: ST });
    const res = await t.get("/__edgekv/status.json", { headers: { authorization: "Bearer wrong" } });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe("Bearer");
    expect(t.seen).toHaveLength(0);
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
      lastError: null,
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

  it("reports overrides as off while OVERRIDE_SECRET is unset or weak", async () => {
    await write(cfg());
    const on = async (extra: Partial<SplitterEnv>) =>
      (
        (await (await setup({ STATUS_SECRET: ST, ...extra }).get("/__edgekv/status.json", { headers: { authorization: `Bearer ${ST}` } })).json()) as {
          overridesEnabled: boolean;
        }
      ).overridesEnabled;
    expect(await on({})).toBe(false);
    expect(await on({ OVERRIDE_SECRET: "s3cret" })).toBe(false);
    expect(await on({ OVERRIDE_SECRET: OV })).toBe(true);
  });
});

describe("status endpoint: secrets in the URL, weak secrets, failed-attempt limiting", () => {
  const LIMIT = 10; // wrangler.toml [[env.splitter.ratelimits]] simple.limit
  let n = 0;
  const freshIp = () => `198.51.100.${n++ % 250}`;
  function limited(extra: Partial<SplitterEnv> = { STATUS_SECRET: ST }, throwing = false) {
    const t = setup(extra);
    const calls: string[] = [];
    // Fault injection around the real local binding: count calls, or make them throw.
    const binding: RateLimit = {
      limit: async (o) => {
        calls.push(o.key);
        if (throwing) throw new Error("rate limiter unavailable (injected)");
        return env.FAILED_STATUS_LIMITER.limit(o);
      },
    };
    t.deps.limiter = new FailureLimiter(binding, { periodSeconds: STATUS_RATE_LIMIT_PERIOD_SECONDS, now });
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
    expect(t.seen).toHaveLength(0);
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
    expect(Number(res.headers.get("retry-after"))).toBeLessThanOrEqual(STATUS_RATE_LIMIT_PERIOD_SECONDS);
    expect((await t.status({ authorization: `Bearer ${ST}`, "cf-connecting-ip": freshIp() })).status).toBe(200);
    // The window over, the client may try again.
    clock += STATUS_RATE_LIMIT_PERIOD_SECONDS * 1000 + 1;
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
        expect(body.message).toContain("openssl rand -base64 32 | npx wrangler secret put STATUS_SECRET --env splitter");
        expect(body.message).not.toContain(weak);
      }
      expect(t.reads()).toBe(0);
    }
  });

  it("an OVERRIDE_SECRET shorter than 32 bytes is ignored: an override signed with it routes nothing", async () => {
    await write(cfg({ percent: 0 }));
    const t = setup({ OVERRIDE_SECRET: "s3cret" });
    const signed = await signOverride("s3cret", "green", Math.floor(clock / 1000) + 60);
    const res = await t.get("/", { headers: { "x-edgekv-override": signed } });
    expect(res.headers.get("x-edgekv-color")).toBe("blue");
    expect(res.headers.get("x-edgekv-reason")).toBe("bucket");
  });
});

// GlobalProps.mainModule is project-wide (three Workers share the test tsconfig), so type the export here.
const worker = (exports as unknown as { default: { fetch(r: Request): Promise<Response> } }).default;

describe("the deployed entry point (exports.default)", () => {
  it("answers 503 with a clear body when ROLLOUT_KV holds no config, never 500", async () => {
    const res = await worker.fetch(new Request("https://app.test/"));
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: "no_rollout_config" });
  });

  it("keeps the status endpoint off without STATUS_SECRET", async () => {
    expect((await worker.fetch(new Request("https://app.test/__edgekv/status.json"))).status).toBe(404);
  });
});
