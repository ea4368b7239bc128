// Through the real Worker entry (wrangler.toml [env.auth]): vars, the real
// FAILED_AUTH_LIMITER binding (it works in the local runtime) and real KV.
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { parseKvServerTiming } from "../../shared/kv/index.ts";
import { RATE_LIMIT_PERIOD_SECONDS } from "../../workers/auth/config.ts";
import { TokenStore } from "../../workers/auth/store.ts";
import { generateToken } from "../../workers/auth/token.ts";

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

  it("the admin API is off without ADMIN_SECRET: /__edgekv/* is 404 and never forwarded", async () => {
    const res = await call("/__edgekv/tokens");
    expect(res.status).toBe(404);
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
