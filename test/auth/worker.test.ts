// Through the real Worker entry (wrangler.toml [env.auth]): vars, the real
// FAILED_AUTH_LIMITER binding (it works in the local runtime) and real KV.
import { env, exports } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { parseKvServerTiming } from "../../shared/kv/index.ts";
import { RATE_LIMIT_PERIOD_SECONDS } from "../../workers/auth/config.ts";
import type { AuthEnv } from "../../workers/auth/env.ts";
import { handle } from "../../workers/auth/handler.ts";
import { depsFor } from "../../workers/auth/index.ts";
import { TokenStore } from "../../cli/token/store.ts";
import { generateToken } from "../../workers/auth/token.ts";
import { limiterWindowHeadroom } from "../helpers.ts";

// Tests here count failures up to the limit: never across a limiter window boundary.
beforeEach(() => limiterWindowHeadroom(), 70_000);

const LIMIT = 20; // wrangler.toml [[env.auth.ratelimits]] simple.limit
// The Exports typing has no `default` unless generated from the entry module.
const worker = (exports as unknown as { default: { fetch(r: Request): Promise<Response> } }).default;
const call = (path: string, headers: Record<string, string> = {}) => worker.fetch(new Request(`https://gate.test${path}`, { headers }));

describe("the Worker entry", () => {
  it("uses wrangler.toml: /health is public, everything else needs a token", async () => {
    const res = await call("/private");
    expect(res.status).toBe(401);
    expect(res.headers.get("WWW-Authenticate")).toBe('Bearer realm="edgekv"');
    expect(env.PUBLIC_PATHS).toContain("/health");
  });

  it("/__edgekv/* is no endpoint of the gate: it needs a token like any path", async () => {
    const res = await call("/__edgekv/tokens");
    expect(res.status).toBe(401);
  });
});

describe("failed attempts are rate limited per client IP (Workers Rate Limiting binding, local)", () => {
  it(`after ${LIMIT} failures an IP gets 429 with Retry-After, even with a valid token and without a KV read; other IPs are unaffected`, async () => {
    const ip = "203.0.113.7";
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 1; i++) statuses.push((await call("/x", { Authorization: `Bearer ${generateToken()}`, "CF-Connecting-IP": ip })).status);
    expect(statuses.slice(0, LIMIT).every((s) => s === 401)).toBe(true);
    expect(statuses[LIMIT]).toBe(429);
    const { token } = await new TokenStore(env.TOKENS_KV).issue({ user: "ratelimited" });
    const blocked = await call("/x", { Authorization: `Bearer ${token}`, "CF-Connecting-IP": ip });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(Number(blocked.headers.get("Retry-After"))).toBeLessThanOrEqual(RATE_LIMIT_PERIOD_SECONDS);
    expect(parseKvServerTiming(blocked.headers.get("Server-Timing"))?.reads).toBe(0);
    expect(((await blocked.json()) as { error: string }).error).toBe("rate_limited");
    // Another client is judged on its own.
    expect((await call("/x", { Authorization: `Bearer ${generateToken()}`, "CF-Connecting-IP": "198.51.100.9" })).status).toBe(401);
  });

  it("requests without a credential do not count as failures", async () => {
    const ip = "203.0.113.99";
    for (let i = 0; i < LIMIT + 5; i++) expect((await call("/x", { "CF-Connecting-IP": ip })).status).toBe(401);
    expect((await call("/x", { Authorization: `Bearer ${generateToken()}`, "CF-Connecting-IP": ip })).status).toBe(401);
  });
});

describe("who a client is (shared/http/limiter.ts clientKey), through the Worker entry", () => {
  const bad = (headers: Record<string, string> = {}) => call("/x", { Authorization: `Bearer ${generateToken()}`, ...headers });

  it("all addresses of one IPv6 /64 are one client: rotating the interface id gains nothing", async () => {
    const p = "2001:db8:77:1";
    for (let i = 0; i < LIMIT; i++)
      expect((await bad({ "CF-Connecting-IP": `${p}:${i.toString(16)}::${((i * 7919) & 0xffff).toString(16)}` })).status).toBe(401);
    expect((await bad({ "CF-Connecting-IP": `${p}:ffff:ffff:ffff:fffe` })).status).toBe(429);
    const { token } = await new TokenStore(env.TOKENS_KV).issue({ user: "v6-locked" });
    expect((await call("/x", { Authorization: `Bearer ${token}`, "CF-Connecting-IP": `${p}::1234` })).status).toBe(429);
    // The neighbouring /64 is another client.
    expect((await bad({ "CF-Connecting-IP": "2001:db8:77:2::1" })).status).toBe(401);
  });

  it("an IPv4-mapped IPv6 address is the IPv4 client", async () => {
    const v4 = "192.0.2.200";
    for (let i = 0; i < LIMIT; i++) expect((await bad({ "CF-Connecting-IP": i % 2 ? v4 : `::ffff:${v4}` })).status).toBe(401);
    expect((await bad({ "CF-Connecting-IP": "::ffff:c000:2c8" })).status).toBe(429);
  });

  it("without CF-Connecting-IP, one bad token hammered is limited by its fingerprint; another client's token is not locked out", async () => {
    const hammered = generateToken();
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 2; i++) statuses.push((await call("/x", { Authorization: `Bearer ${hammered}` })).status);
    expect(statuses.slice(0, LIMIT)).toEqual(Array(LIMIT).fill(401));
    expect(statuses.slice(LIMIT)).toEqual([429, 429]);
    // Today's "unknown" bucket would make these 429 too.
    expect((await bad()).status).toBe(401);
    const { token } = await new TokenStore(env.TOKENS_KV).issue({ user: "noip-victim" });
    expect((await call("/x", { Authorization: `Bearer ${token}` })).status).not.toBe(429);
  });
});

describe("the gate has no admin API (it is the control Worker's)", () => {
  it("/__edgekv/tokens is gated like any path: without a token 401, whatever secret is sent", async () => {
    const deps = depsFor({ ...env, ADMIN_SECRET: "worker-admin-secret-0123456789abcdef" } as unknown as AuthEnv);
    for (const [method, path] of [
      ["POST", "/__edgekv/tokens"],
      ["DELETE", `/__edgekv/tokens/${"a".repeat(64)}`],
      ["DELETE", "/__edgekv/tokens/users/alice"],
    ] as const) {
      const res = await handle(
        new Request(`https://gate.test${path}`, {
          method,
          headers: { Authorization: "Bearer worker-admin-secret-0123456789abcdef" },
          body: method === "POST" ? "{}" : null,
        }),
        deps,
      );
      expect(res.status, `${method} ${path}`).toBe(401);
    }
  });
});
