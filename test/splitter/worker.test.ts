import { env, exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { parseKvServerTiming } from "../../shared/kv/index.ts";
import { bucketOf } from "../../workers/splitter/bucket.ts";
import { CONFIG_KEY, type RolloutConfigInput } from "../../workers/splitter/model.ts";
import type { SplitterEnv } from "../../workers/splitter/env.ts";
import { handle, type Deps } from "../../workers/splitter/handler.ts";
import { signOverride } from "../../workers/splitter/override.ts";
import { ConfigSource } from "../../workers/splitter/store.ts";
import { BLUE, GREEN, cfg, origins } from "./helpers.ts";

// Tests here count failures up to the limit: never across a limiter window boundary.

const TTL = 1_000;
// Secrets of at least MIN_SECRET_BYTES (shorter ones turn nothing on, see "weak secrets" below).
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
    // 200,000 issues once overflowed the stack (a RangeError, not a validation error) and dropped the good config.
    ["200,000 invalid rules", JSON.stringify(cfg({ version: 2, rules: Array.from({ length: 200_000 }, () => ({ match: {}, to: "red" })) as never }))],
    ["a deleted key", null],
  ])("%s in KV keeps the last good config, logs and reports the error", async (_name, bad) => {
    await write(cfg({ percent: 100 }));
    const t = setup();
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
    // What the isolate holds is reported in that one structured log line (the control Worker's status page reads KV).
    expect(JSON.parse(t.logs[0]!)).toMatchObject({ level: "error", code: "rollout_config", servingLastGood: true });
    expect(t.source.lastError?.message).toMatch(/invalid|JSON|no rollout config/);

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

describe("overrides", () => {
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

  it("has no endpoint of its own: /__edgekv/status is routed like any path (the status page is the control Worker's)", async () => {
    expect((await worker.fetch(new Request("https://app.test/__edgekv/status.json"))).status).toBe(503);
  });
});
