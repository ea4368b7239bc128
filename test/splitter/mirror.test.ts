/**
 * Mirroring (issue 14) through handle() with the real local KV and a real
 * ExecutionContext: the copy runs in waitUntil, carries x-edgekv-mirror,
 * never a body, and nothing about it reaches the user's response.
 */
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { handle, type Deps } from "../../workers/splitter/handler.ts";
import { CONFIG_KEY, type RolloutConfigInput } from "../../workers/splitter/model.ts";
import { ConfigSource } from "../../workers/splitter/store.ts";
import { BLUE, GREEN, cfg, origins } from "./fixtures.ts";

const write = (c: RolloutConfigInput) => env.ROLLOUT_KV.put(CONFIG_KEY, JSON.stringify(c));

/** Green (the mirror target while blue serves) behaves as `green` says; blue answers at once. */
function setup(green: (req: Request) => Response | Promise<Response> | undefined = () => undefined) {
  const o = origins((origin, req) => (origin === GREEN ? green(req) : undefined));
  const deps: Deps = { env: { ROLLOUT_KV: env.ROLLOUT_KV }, source: new ConfigSource(env.ROLLOUT_KV, { ttlMs: 60_000 }), fetch: o.fetch, now: Date.now };
  const send = async (path = "/page?q=1", init: RequestInit = {}) => {
    const ctx = createExecutionContext();
    const t = performance.now();
    const res = await handle(new Request(`https://app.test${path}`, init), deps, ctx);
    const body = await res.text();
    const ms = performance.now() - t;
    return { res, body, ms, ctx };
  };
  const mirrored = () => o.seen.filter((s) => s.headers["x-edgekv-mirror"] === "1");
  return { ...o, send, mirrored };
}

beforeEach(async () => {
  await env.ROLLOUT_KV.delete(CONFIG_KEY);
});

describe("mirror: { percent }", () => {
  it("copies a GET to the non-serving colour, marked, with the same path, query and headers, after the response", async () => {
    await write(cfg({ percent: 0, mirror: { percent: 100 } }));
    const t = setup();
    const { res, body, ctx } = await t.send("/page?q=1", { headers: { cookie: "edgekv_id=visitor-1-abcdef", "x-app": "1" } });
    await waitOnExecutionContext(ctx);
    expect(res.headers.get("x-edgekv-color")).toBe("blue");
    expect(body).toBe(`hello from ${BLUE}`);
    expect(t.mirrored()).toHaveLength(1);
    const m = t.mirrored()[0]!;
    expect(m).toMatchObject({ url: `${GREEN}/page?q=1`, method: "GET", body: "" });
    expect(m.headers).toMatchObject({ "x-app": "1", cookie: "edgekv_id=visitor-1-abcdef", "x-forwarded-host": "app.test" });
    // The user's own request never carries the marker.
    expect(t.seen.find((s) => s.url.startsWith(BLUE))!.headers).not.toHaveProperty("x-edgekv-mirror");
  });

  it("mirrors HEAD too, but never a request with a body, and nothing when off", async () => {
    await write(cfg({ percent: 0, mirror: { percent: 100 } }));
    const t = setup();
    for (const init of [{ method: "POST", body: "secret-form=1" }, { method: "PUT", body: "x" }, { method: "DELETE" }, { method: "HEAD" }]) {
      const { ctx } = await t.send("/x", init);
      await waitOnExecutionContext(ctx);
    }
    expect(t.mirrored().map((m) => m.method)).toEqual(["HEAD"]);
    expect(t.mirrored().every((m) => m.body === "")).toBe(true);
    expect(JSON.stringify(t.mirrored())).not.toContain("secret-form");

    await write(cfg({ version: 2, percent: 0 }));
    const off = setup();
    const { ctx } = await off.send();
    await waitOnExecutionContext(ctx);
    expect(off.mirrored()).toEqual([]);
  });

  it("a slow mirror target changes nothing for the user (status, body, latency); the copy gives up at timeoutMs", async () => {
    await write(cfg({ percent: 0, timeoutMs: 300, mirror: { percent: 100 } }));
    const baseline = setup();
    const base = await baseline.send();
    await waitOnExecutionContext(base.ctx);

    const t = setup((req) => new Promise<Response>((_, reject) => req.signal.addEventListener("abort", () => reject(new Error("aborted")))));
    const slow = await t.send();
    expect(slow.res.status).toBe(200);
    expect(slow.body).toBe(`hello from ${BLUE}`);
    // The response came before the mirror's deadline: it never waited for the copy.
    expect(slow.ms).toBeLessThan(250);
    const started = performance.now();
    await waitOnExecutionContext(slow.ctx);
    expect(performance.now() - started).toBeGreaterThan(150);
    expect(t.mirrored()).toHaveLength(1);
  });

  it("a failing mirror target (an error, a 500, a thrown exception) changes nothing for the user", async () => {
    await write(cfg({ percent: 0, mirror: { percent: 100 } }));
    for (const green of [() => new Response("boom", { status: 500 }), () => Promise.reject(new Error("connection refused"))]) {
      const t = setup(green);
      const r = await t.send();
      await waitOnExecutionContext(r.ctx);
      expect(r.res.status).toBe(200);
      expect(r.body).toBe(`hello from ${BLUE}`);
      expect(r.res.headers.get("x-edgekv-reason")).toBe("bucket");
      expect(t.mirrored()).toHaveLength(1);
    }
  });

  it("copies to blue what green serves", async () => {
    await write(cfg({ percent: 100, mirror: { percent: 100 } }));
    const t = setup();
    const { res, ctx } = await t.send();
    await waitOnExecutionContext(ctx);
    expect(res.headers.get("x-edgekv-color")).toBe("green");
    expect(t.mirrored().map((m) => new URL(m.url).origin)).toEqual([BLUE]);
  });

  it("mirrors the configured share, within statistical bounds", async () => {
    await write(cfg({ percent: 0, mirror: { percent: 25 } }));
    const t = setup();
    const n = 2_000;
    for (let i = 0; i < n; i++) {
      const { ctx } = await t.send(`/r${i}`);
      await waitOnExecutionContext(ctx);
    }
    // Binomial(2000, 0.25): mean 500, sd 19.4; 5 sd either side.
    expect(t.mirrored().length).toBeGreaterThan(500 - 97);
    expect(t.mirrored().length).toBeLessThan(500 + 97);
  });
});
