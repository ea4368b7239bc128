import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../workers/auth/env.ts";
import { sameSiteRequest } from "../../workers/auth/gate.ts";

const config = parseConfig({
  TOKENS_KV: env.TOKENS_KV,
  ORIGIN_URL: "http://origin.test",
  AUTH_COOKIE: "edgekv_token",
  CORS_ALLOW_ORIGINS: "https://app.example.com",
});
const url = new URL("https://gate.example.com/account");
const check = (headers: Record<string, string>) => sameSiteRequest(new Request(url, { method: "POST", headers }), url, config);

describe("sameSiteRequest: who may write with a cookie credential", () => {
  it.each([
    [{ Origin: "https://gate.example.com" }, true],
    [{ Origin: "https://app.example.com" }, true],
    [{ "Sec-Fetch-Site": "same-origin" }, true],
    [{ "Sec-Fetch-Site": "same-site" }, true],
    [{ Origin: "http://gate.example.com" }, false],
    [{ Origin: "https://gate.example.com:8443" }, false],
    [{ Origin: "https://gate.example.com.evil.example" }, false],
    [{ Origin: "https://evil.example", "Sec-Fetch-Site": "same-origin" }, false],
    [{ Origin: "null" }, false],
    [{ Origin: "null", "Sec-Fetch-Site": "cross-site" }, false],
    [{ "Sec-Fetch-Site": "cross-site" }, false],
    [{ "Sec-Fetch-Site": "none" }, false],
    [{}, false],
  ])("%o -> %s", (headers, expected) => {
    expect(check(headers)).toBe(expected);
  });

  it("a wildcard CORS policy never vouches for a cookie write (the config refuses the pair anyway)", () => {
    expect(() => parseConfig({ TOKENS_KV: env.TOKENS_KV, ORIGIN_URL: "http://o.test", AUTH_COOKIE: "c", CORS_ALLOW_ORIGINS: "*" })).toThrow();
  });
});
