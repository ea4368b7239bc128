import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { FailureLimiter, MAX_NO_IP_FAILURES_PER_WINDOW } from "../../shared/http/limiter.ts";
import { MIN_SECRET_BYTES } from "../../shared/http/secrets.ts";
import { RATE_LIMIT_PERIOD_SECONDS } from "../../workers/control/env.ts";
import { TokenRecordSchema } from "../../workers/auth/model.ts";
import { bearer, makeControl as makeGate, uniqueUser } from "./helpers.ts";
import { limiterWindowHeadroom } from "../helpers.ts";

// Tests here count failures up to the limit: never across a limiter window boundary.
beforeEach(() => limiterWindowHeadroom(), 70_000);

const SECRET = "admin-secret-for-tests-0123456789abcdef"; // >= MIN_SECRET_BYTES
const LIMIT = 10; // wrangler.toml [[env.control.ratelimits]] simple.limit
const admin = (extra: Record<string, string> = {}) => ({ Authorization: `Bearer ${SECRET}`, ...extra });

describe("admin API (/__edgekv/tokens)", () => {
  it("is 404 when ADMIN_SECRET is not set, whatever the credentials", async () => {
    const g = makeGate();
    const res = await g.fetch("/__edgekv/tokens", { method: "POST", headers: admin(), body: "{}" });
    expect(res.status).toBe(404);
    expect(g.received).toEqual([]);
  });

  it("refuses wrong secrets of any length, and a missing one", async () => {
    const g = makeGate({ ADMIN_SECRET: SECRET });
    for (const wrong of ["", "a", SECRET.slice(0, -1), `${SECRET}x`, SECRET.toUpperCase(), "x".repeat(5000)]) {
      const res = await g.fetch("/__edgekv/tokens", { method: "POST", headers: { Authorization: `Bearer ${wrong}` }, body: '{"user":"x"}' });
      expect(res.status).toBe(401);
    }
    expect((await g.fetch("/__edgekv/tokens", { method: "POST", body: '{"user":"x"}' })).status).toBe(401);
    expect(g.received).toEqual([]);
  });

  it("POST issues a token the gate accepts; DELETE by hash revokes it at once", async () => {
    const g = makeGate({ ADMIN_SECRET: SECRET });
    const user = uniqueUser("adm");
    const res = await g.fetch("/__edgekv/tokens", {
      method: "POST",
      headers: admin({ "Content-Type": "application/json" }),
      body: JSON.stringify({ user, scopes: ["GET:/app/*"], ttl: 600, label: "login" }),
    });
    expect(res.status).toBe(201);
    const issued = (await res.json()) as { token: string; hash: string; user: string; scopes: string[]; expiresAt: number };
    expect(issued).toMatchObject({ user, scopes: ["GET:/app/*"] });
    expect(issued.expiresAt - g.clock.t).toBe(600_000);
    expect((await g.fetch("/app/home", bearer(issued.token))).status).toBe(200);
    expect(g.received[0]!.headers["x-edgekv-user"]).toBe(user);
    const del = await g.fetch(`/__edgekv/tokens/${issued.hash}`, { method: "DELETE", headers: admin() });
    expect(await del.json()).toEqual({ revoked: 1 });
    expect((await g.fetch("/app/home", bearer(issued.token))).status).toBe(401);
  });

  it("DELETE /users/:user revokes all of a user's tokens", async () => {
    const g = makeGate({ ADMIN_SECRET: SECRET });
    const user = uniqueUser("many");
    const tokens: string[] = [];
    for (let i = 0; i < 3; i++) tokens.push((await g.issue({ user })).token);
    const other = (await g.issue()).token;
    for (const t of tokens) expect((await g.fetch("/x", bearer(t))).status).toBe(200);
    const del = await g.fetch(`/__edgekv/tokens/users/${user}`, { method: "DELETE", headers: admin() });
    expect(await del.json()).toEqual({ revoked: 3 });
    for (const t of tokens) expect((await g.fetch("/x", bearer(t))).status).toBe(401);
    expect((await g.fetch("/x", bearer(other))).status).toBe(200);
  });

  it("bad input is a 400 with a useful message, and writes nothing", async () => {
    const g = makeGate({ ADMIN_SECRET: SECRET });
    const cases: [string, string][] = [
      ["not json", "body must be JSON"],
      ["[1]", "user"],
      ['{"user":"a b"}', "user must be"],
      ['{"user":"ok","ttl":10}', "ttl must be"],
      ['{"user":"ok","scopes":["GET /x"]}', "a scope is METHOD:/glob"],
      ['{"user":"ok","scopes":"GET:/x"}', "scopes"],
    ];
    for (const [body, message] of cases) {
      const res = await g.fetch("/__edgekv/tokens", { method: "POST", headers: admin(), body });
      expect(res.status, body).toBe(400);
      expect(((await res.json()) as { message: string }).message).toContain(message);
    }
    expect((await g.fetch("/__edgekv/tokens/not-a-hash", { method: "DELETE", headers: admin() })).status).toBe(400);
    expect((await g.fetch("/__edgekv/nothing", { headers: admin() })).status).toBe(404);
  });

  it("routes exactly as before: trailing slashes, other methods and paths are 404", async () => {
    const g = makeGate({ ADMIN_SECRET: SECRET });
    const user = uniqueUser("rt");
    const post = await g.fetch("/__edgekv/tokens/", { method: "POST", headers: admin(), body: JSON.stringify({ user }) });
    expect(post.status).toBe(201);
    const { hash, token } = (await post.json()) as { hash: string; token: string };
    for (const [method, path] of [
      ["GET", "/__edgekv/tokens"],
      ["PUT", "/__edgekv/tokens"],
      ["POST", `/__edgekv/tokens/${hash}`],
      ["POST", `/__edgekv/tokens/users/${user}`],
      ["DELETE", "/__edgekv/tokens"],
      ["DELETE", `/__edgekv/tokens/${hash}/extra`],
      ["DELETE", "/__edgekv/other"],
    ] as const) {
      const res = await g.fetch(path, { method, headers: admin() });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(((await res.json()) as { error: string }).error).toBe("not_found");
    }
    expect((await g.fetch("/__edgekv/tokens/users", { method: "DELETE", headers: admin() })).status).toBe(400);
    expect((await g.fetch("/x", bearer(token))).status).toBe(200);
    const del = await g.fetch(`/__edgekv/tokens/users/${user}/`, { method: "DELETE", headers: admin() });
    expect(await del.json()).toEqual({ revoked: 1 });
    expect((await g.fetch("/x", bearer(token))).status).toBe(401);
  });

  it("writes records the one record schema (the CLI's too) accepts, and refuses what it refuses", async () => {
    const g = makeGate({ ADMIN_SECRET: SECRET });
    const user = uniqueUser("v");
    const res = await g.fetch("/__edgekv/tokens", {
      method: "POST",
      headers: admin(),
      body: JSON.stringify({ user, scopes: ["GET:/a/*", "*:/b"], label: "l" }),
    });
    const { hash } = (await res.json()) as { hash: string };
    const stored = await env.TOKENS_KV.get(`tok/${hash}`, "json");
    expect(TokenRecordSchema["~standard"].validate(stored)).toEqual({ value: stored });
    for (const body of [
      { user, label: "x".repeat(101) },
      { user, scopes: Array.from({ length: 33 }, () => "GET:/x") },
      { user, label: 1 },
    ]) {
      const r = await g.fetch("/__edgekv/tokens", { method: "POST", headers: admin(), body: JSON.stringify(body) });
      expect(r.status, JSON.stringify(body).slice(0, 60)).toBe(400);
    }
  });
});

/** An admin API guarded by the real local FAILED_CONTROL_LIMITER binding (or one that throws). */
function limitedGate(options: { throwing?: boolean } = {}) {
  const calls: string[] = [];
  const real = env.FAILED_CONTROL_LIMITER;
  // Fault injection around the real binding: count calls, or make every call throw.
  const binding: RateLimit = {
    limit: async (o) => {
      calls.push(o.key);
      if (options.throwing) throw new Error("rate limiter unavailable (injected)");
      return real.limit(o);
    },
  };
  const clock = { t: Date.now() };
  const limiter = new FailureLimiter(binding, { periodSeconds: RATE_LIMIT_PERIOD_SECONDS, now: () => clock.t });
  const g = makeGate({ ADMIN_SECRET: SECRET }, { limiter, start: clock.t });
  const post = (headers: Record<string, string>) => g.fetch("/__edgekv/tokens", { method: "POST", headers, body: JSON.stringify({ user: uniqueUser("lim") }) });
  const advance = (ms: number) => {
    clock.t += ms;
    g.clock.t = clock.t;
  };
  return { g, post, calls, advance };
}

let prefix = 0;
/** A /64 no other test uses (the binding's counters live for the whole run). */
const fresh64 = () => `2001:db8:${(Date.now() % 0xffff).toString(16)}:${(prefix++).toString(16)}`;
const fresh4 = () => `198.18.${prefix % 250}.${(prefix++ * 7) % 250}`;

describe("admin API: weak secrets turn nothing on", () => {
  it(`a secret shorter than ${MIN_SECRET_BYTES} bytes answers 503 weak_secret to everyone, even with that exact secret, and never echoes it`, async () => {
    for (const weak of ["Zq7", "short-admin-secret", "Q".repeat(MIN_SECRET_BYTES - 1), "é".repeat(15)]) {
      const g = makeGate({ ADMIN_SECRET: weak });
      for (const sent of [weak, "", SECRET]) {
        const res = await g.fetch("/__edgekv/tokens", { method: "POST", headers: { Authorization: `Bearer ${sent}` }, body: '{"user":"x"}' });
        expect(res.status, weak).toBe(503);
        const body = (await res.json()) as { error: string; message: string };
        expect(body.error).toBe("weak_secret");
        expect(body.message).toContain("openssl rand -base64 32 | npx wrangler secret put ADMIN_SECRET --env control");
        expect(body.message).not.toContain(weak);
      }
      expect(g.received).toEqual([]);
    }
  });

  it(`exactly ${MIN_SECRET_BYTES} bytes is enough`, async () => {
    const secret = "k".repeat(MIN_SECRET_BYTES);
    const g = makeGate({ ADMIN_SECRET: secret });
    const res = await g.fetch("/__edgekv/tokens", {
      method: "POST",
      headers: { Authorization: `Bearer ${secret}` },
      body: JSON.stringify({ user: uniqueUser("k") }),
    });
    expect(res.status).toBe(201);
  });
});

describe("admin API: the failed-attempt limiter comes before the secret (real local binding)", () => {
  it(`after ${LIMIT} wrong secrets the client gets only 429s, the right secret included, until the window ends`, async () => {
    const { post, advance } = limitedGate();
    const ip = fresh4();
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 1; i++) statuses.push((await post({ Authorization: `Bearer wrong-${i}`, "CF-Connecting-IP": ip })).status);
    expect(statuses.slice(0, LIMIT)).toEqual(Array(LIMIT).fill(401));
    expect(statuses[LIMIT]).toBe(429);
    for (let i = 0; i < 3; i++) {
      const res = await post({ Authorization: `Bearer ${SECRET}`, "CF-Connecting-IP": ip });
      expect(res.status).toBe(429);
      expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
      expect(((await res.json()) as { error: string }).error).toBe("rate_limited");
    }
    // Another client is unaffected; the locked-out one gets in once the window is over.
    expect((await post({ Authorization: `Bearer ${SECRET}`, "CF-Connecting-IP": fresh4() })).status).toBe(201);
    advance(RATE_LIMIT_PERIOD_SECONDS * 1000 + 1);
    expect((await post({ Authorization: `Bearer ${SECRET}`, "CF-Connecting-IP": ip })).status).toBe(201);
  });

  it("only failures count: many right-secret calls from one client never lock it out", async () => {
    const { post, calls } = limitedGate();
    const ip = fresh4();
    for (let i = 0; i < LIMIT * 2; i++) expect((await post({ Authorization: `Bearer ${SECRET}`, "CF-Connecting-IP": ip })).status).toBe(201);
    expect(calls).toEqual([]);
  });

  it("all addresses of one IPv6 /64 are one client: rotating within it is locked out together, another /64 is not", async () => {
    const { post } = limitedGate();
    const p = fresh64();
    for (let i = 0; i < LIMIT; i++)
      expect((await post({ Authorization: "Bearer wrong", "CF-Connecting-IP": `${p}::${(i + 1).toString(16)}` })).status).toBe(401);
    expect((await post({ Authorization: "Bearer wrong", "CF-Connecting-IP": `${p}:ffff:ffff:ffff:ffff` })).status).toBe(429);
    expect((await post({ Authorization: `Bearer ${SECRET}`, "CF-Connecting-IP": `[${p}:0:0:0:abcd]` })).status).toBe(429);
    expect((await post({ Authorization: `Bearer ${SECRET}`, "CF-Connecting-IP": `${fresh64()}::1` })).status).toBe(201);
  });

  it("malformed CF-Connecting-IP values share one bucket: varying junk does not make fresh ones", async () => {
    const { post, calls } = limitedGate();
    const junk = ["junk", "1.2.3.4:80", "::g", "256.0.0.1", "", "unknown", "[::1", "x".repeat(200)];
    for (let i = 0; i < LIMIT * 2; i++) await post({ Authorization: "Bearer wrong", "CF-Connecting-IP": `${junk[i % junk.length]}${i % 3 ? "" : "z"}` });
    expect(new Set(calls)).toEqual(new Set(["ip:invalid"]));
    expect((await post({ Authorization: `Bearer ${SECRET}`, "CF-Connecting-IP": "still junk" })).status).toBe(429);
  });

  it("without CF-Connecting-IP (a service binding): one bad secret is limited by its fingerprint, nobody else is locked out", async () => {
    const { post } = limitedGate();
    const bad = `Bearer wrong-${uniqueUser()}`;
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 2; i++) statuses.push((await post({ Authorization: bad })).status);
    expect(statuses.slice(0, LIMIT)).toEqual(Array(LIMIT).fill(401));
    expect(statuses.slice(LIMIT)).toEqual([429, 429]);
    // Another caller with another wrong secret is judged on its own, and the right secret works.
    expect((await post({ Authorization: `Bearer other-${uniqueUser()}` })).status).toBe(401);
    expect((await post({ Authorization: `Bearer ${SECRET}` })).status).toBe(201);
  });

  it(`without CF-Connecting-IP, rotating secrets is capped per isolate (${MAX_NO_IP_FAILURES_PER_WINDOW} failures a window), and the right secret still works`, async () => {
    const { post, calls } = limitedGate();
    const statuses: number[] = [];
    for (let i = 0; i < MAX_NO_IP_FAILURES_PER_WINDOW + 5; i++) statuses.push((await post({ Authorization: `Bearer rot-${i}-${uniqueUser()}` })).status);
    expect(statuses.slice(0, MAX_NO_IP_FAILURES_PER_WINDOW).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(MAX_NO_IP_FAILURES_PER_WINDOW)).toEqual(Array(5).fill(429));
    expect(calls).toHaveLength(MAX_NO_IP_FAILURES_PER_WINDOW); // past the cap, no limiter call
    expect((await post({ Authorization: `Bearer ${SECRET}` })).status).toBe(201);
  });

  it("a limiter that throws opens nothing: wrong secrets stay 401, the right one works", async () => {
    const { post, calls } = limitedGate({ throwing: true });
    const ip = fresh4();
    for (let i = 0; i < LIMIT + 5; i++) expect((await post({ Authorization: "Bearer wrong", "CF-Connecting-IP": ip })).status).toBe(401);
    expect(calls.length).toBe(LIMIT + 5);
    expect((await post({ Authorization: `Bearer ${SECRET}`, "CF-Connecting-IP": ip })).status).toBe(201);
  });
});
