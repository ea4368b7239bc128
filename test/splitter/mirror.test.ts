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
import { BLUE, GREEN, cfg, origins } from "./helpers.ts";

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
    expect(m.headers).toMatchObject({ "x-app": "1", cookie: "edgekv_id=visitor-1-abcdef", "x-forwarded-host": "app.test", "x-edgekv-mirror": "1" });
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

  it("waits for the user's own request: the copy is sent only after the user's origin returned its headers", async () => {
    await write(cfg({ percent: 0, mirror: { percent: 100 } }));
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const o = origins(async (origin) => {
      events.push(`${origin} start`);
      if (origin === BLUE) {
        // The user's origin answers only once the test lets it: a copy sent early would show up first.
        setTimeout(release, 20);
        await gate;
        events.push(`${origin} headers`);
      }
      return undefined;
    });
    const deps: Deps = { env: { ROLLOUT_KV: env.ROLLOUT_KV }, source: new ConfigSource(env.ROLLOUT_KV, { ttlMs: 60_000 }), fetch: o.fetch, now: Date.now };
    for (let i = 0; i < 5; i++) {
      const ctx = createExecutionContext();
      await (await handle(new Request(`https://app.test/r${i}`), deps, ctx)).text();
      await waitOnExecutionContext(ctx);
    }
    expect(events.filter((e) => e.startsWith(GREEN))).toHaveLength(5);
    for (let i = 0; i < events.length; i += 3) expect(events.slice(i, i + 3)).toEqual([`${BLUE} start`, `${BLUE} headers`, `${GREEN} start`]);
  });

  it("no copy after a failover: both colours have already seen the request", async () => {
    await write(cfg({ percent: 0, failover: true, mirror: { percent: 100 } }));
    const o = origins((origin) => (origin === BLUE ? new Response("down", { status: 503 }) : undefined));
    const deps: Deps = { env: { ROLLOUT_KV: env.ROLLOUT_KV }, source: new ConfigSource(env.ROLLOUT_KV, { ttlMs: 60_000 }), fetch: o.fetch, now: Date.now };
    const ctx = createExecutionContext();
    const res = await handle(new Request("https://app.test/x"), deps, ctx);
    await waitOnExecutionContext(ctx);
    expect(res.headers.get("x-edgekv-reason")).toBe("failover");
    expect(o.seen.map((s) => [new URL(s.url).origin, s.headers["x-edgekv-mirror"]])).toEqual([
      [BLUE, undefined],
      [GREEN, undefined],
    ]);
  });
});

/** What a user's request may carry that identifies or authenticates them, with the header names it uses. */
const CREDENTIALS: [what: string, headers: Record<string, string>][] = [
  ["Authorization Bearer", { authorization: "Bearer ekv_secret_token_0123456789" }],
  ["Authorization Basic", { Authorization: "Basic YWxpY2U6czNjcjN0" }],
  ["Proxy-Authorization", { "proxy-authorization": "Basic YWxpY2U6czNjcjN0" }],
  ["the gate's identity assertion", { "x-edgekv-jwt-assertion": "eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiJqMSJ9.sig" }],
  [
    "the gate's identity headers",
    { "x-edgekv-user": "alice", "X-EdgeKV-Scopes": "*", "x-edgekv-token-id": "0123456789ab", "x-edgekv-token-expires": "9999999999" },
  ],
  ["an _ spelling of the assertion", { x_edgekv_jwt_assertion: "eyJ.eyJ.sig" }],
  ["a tester override", { "x-edgekv-override": "green.9999999999.sig" }],
  ["API keys and CSRF tokens", { "x-api-key": "k-secret", "x-auth-token": "t-secret", "x-csrf-token": "c-secret" }],
  ["Cloudflare Access", { "cf-access-jwt-assertion": "eyJ.eyJ.sig", "cf-access-client-secret": "s-secret" }],
  ["another proxy's identity", { "x-forwarded-user": "alice", "x-amzn-oidc-data": "eyJ.eyJ.sig", "remote-user": "alice" }],
];

describe("mirror: a copy carries no one's credentials", () => {
  it.each(CREDENTIALS)("%s: on the user's request, never on the copy", async (_what, creds) => {
    await write(cfg({ percent: 0, mirror: { percent: 100 } }));
    const t = setup();
    const { ctx } = await t.send("/page", { headers: { ...creds, "x-app": "1" } });
    await waitOnExecutionContext(ctx);
    const copy = t.mirrored()[0]!;
    expect(copy.headers["x-app"]).toBe("1");
    for (const name of Object.keys(creds)) expect(copy.headers).not.toHaveProperty(name.toLowerCase());
    expect(JSON.stringify(copy.headers)).not.toMatch(/secret|YWxpY2U|eyJ|alice|\.sig/);
    // The user's own request keeps what it is not the splitter's business to remove (hop-by-hop aside).
    const user = t.seen.find((s) => s.url.startsWith(BLUE))!;
    for (const [name, value] of Object.entries(creds)) if (name.toLowerCase() !== "proxy-authorization") expect(user.headers[name.toLowerCase()]).toBe(value);
  });

  it("cookies: only the sticky id reaches the copy (credential cookies, several cookies, a minted id)", async () => {
    await write(cfg({ percent: 0, mirror: { percent: 100 } }));
    const t = setup();
    for (const cookie of [
      "session=s3cr3t; edgekv_id=visitor-1-abcdef",
      "a=1; edgekv_id=visitor-1-abcdef; CF_Authorization=eyJ.x.y; b=2",
      "edgekv_id=visitor-1-abcdef",
    ]) {
      const { ctx } = await t.send("/page", { headers: { cookie } });
      await waitOnExecutionContext(ctx);
    }
    expect(t.mirrored().map((m) => m.headers.cookie)).toEqual(Array(3).fill("edgekv_id=visitor-1-abcdef"));
    // A new visitor: the copy carries the id minted for the user's request, nothing else.
    const { res, ctx } = await t.send("/page", { headers: { cookie: "session=s3cr3t" } });
    await waitOnExecutionContext(ctx);
    const minted = /^edgekv_id=([\w-]+);/.exec(res.headers.get("set-cookie") ?? "")![1];
    expect(t.mirrored()[3]!.headers.cookie).toBe(`edgekv_id=${minted}`);
  });

  it("a query access_token (RFC 6750) is left off the copy; the rest of the query is kept", async () => {
    await write(cfg({ percent: 0, mirror: { percent: 100 } }));
    const t = setup();
    const queries = [
      "?access_token=tok-secret&q=1",
      "?q=1&ACCESS_TOKEN=tok-secret",
      "?access_token=tok-secret",
      // Spelled as a parser decodes it: percent-escapes, `+`-free; the other pairs byte for byte.
      "?access%5Ftoken=tok-secret&q=%7E%20+&flag",
      "?q=1&%61ccess_token=tok-secret&&x=a%2Bb",
    ];
    for (const q of queries) {
      const { ctx } = await t.send(`/page${q}`);
      await waitOnExecutionContext(ctx);
    }
    expect(t.mirrored().map((m) => m.url)).toEqual([
      `${GREEN}/page?q=1`,
      `${GREEN}/page?q=1`,
      `${GREEN}/page`,
      `${GREEN}/page?q=%7E%20+&flag`,
      `${GREEN}/page?q=1&&x=a%2Bb`,
    ]);
    expect(t.mirrored().some((m) => m.url.includes("tok-secret"))).toBe(false);
    expect(t.seen.filter((s) => s.url.startsWith(BLUE)).every((s) => s.url.includes("tok-secret"))).toBe(true);
  });

  it("mirror.stripHeaders: the operator's names are removed (any case, _ for -), credentials or not", async () => {
    await write(cfg({ percent: 0, mirror: { percent: 100, stripHeaders: ["X-Session-Token", "x-tenant"] } }));
    const t = setup();
    const { ctx } = await t.send("/page", { headers: { "x-session-token": "tok", x_session_token: "tok", "X-TENANT": "acme", "x-app": "1" } });
    await waitOnExecutionContext(ctx);
    const copy = t.mirrored()[0]!.headers;
    expect(copy).toMatchObject({ "x-app": "1" });
    expect(Object.keys(copy).filter((k) => /session|tenant/.test(k))).toEqual([]);
    expect(t.seen.find((s) => s.url.startsWith(BLUE))!.headers).toMatchObject({ "x-session-token": "tok", "x-tenant": "acme" });
  });

  it("mirror.forwardCredentials: true forwards them (the documented opt-in); stripHeaders still applies", async () => {
    await write(cfg({ percent: 0, mirror: { percent: 100, forwardCredentials: true, stripHeaders: ["x-api-key"] } }));
    const t = setup();
    const headers = { authorization: "Bearer t", "x-edgekv-jwt-assertion": "eyJ.eyJ.sig", cookie: "session=s; edgekv_id=visitor-1-abcdef", "x-api-key": "k" };
    const { ctx } = await t.send("/page", { headers });
    await waitOnExecutionContext(ctx);
    expect(t.mirrored()[0]!.headers).toMatchObject({
      authorization: "Bearer t",
      "x-edgekv-jwt-assertion": "eyJ.eyJ.sig",
      cookie: "session=s; edgekv_id=visitor-1-abcdef",
    });
    expect(t.mirrored()[0]!.headers).not.toHaveProperty("x-api-key");
  });
});

describe("x-edgekv-mirror: only the splitter sets it, only on copies", () => {
  const spoofs: Record<string, string>[] = [
    { "x-edgekv-mirror": "1" },
    { "X-EDGEKV-MIRROR": "1" },
    { x_edgekv_mirror: "1" },
    { "X-Edgekv_Mirror": "0" },
    { "x-edgekv-mirror": "1", connection: "x-edgekv-mirror" },
  ];
  it.each(spoofs)("a client's %o never reaches an origin, on the user's request or the copy", async (spoof) => {
    await write(cfg({ percent: 0, mirror: { percent: 100 } }));
    const t = setup();
    const { ctx } = await t.send("/page", { headers: spoof });
    await waitOnExecutionContext(ctx);
    const user = t.seen.find((s) => s.url.startsWith(BLUE))!;
    expect(Object.keys(user.headers).filter((k) => /edgekv.mirror/i.test(k))).toEqual([]);
    const copy = t.mirrored();
    expect(copy).toHaveLength(1);
    expect(Object.entries(copy[0]!.headers).filter(([k]) => /edgekv.mirror/i.test(k))).toEqual([["x-edgekv-mirror", "1"]]);
  });

  it("and not with mirroring off either", async () => {
    await write(cfg({ percent: 0 }));
    const t = setup();
    for (const spoof of spoofs) await t.send("/page", { headers: spoof });
    expect(t.seen.flatMap((s) => Object.keys(s.headers).filter((k) => /edgekv.mirror/i.test(k)))).toEqual([]);
  });
});
