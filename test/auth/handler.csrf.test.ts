import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { gateConfig } from "../../workers/auth/config.ts";
import { fromAllowedOrigin, needsOrigin } from "../../workers/auth/handler.ts";
import { bearer, makeGate } from "./helpers.ts";

const ALLOWED = "https://app.example.com";
const config = gateConfig({
  TOKENS_KV: env.TOKENS_KV,
  ORIGIN_URL: "http://origin.test",
  AUTH_COOKIE: "edgekv_token",
  CORS_ALLOW_ORIGINS: ALLOWED,
});
const url = new URL("https://gate.example.com/account");
const check = (headers: Record<string, string>) => fromAllowedOrigin(new Request(url, { method: "POST", headers }), url, config);

// Origin values a browser (or an attacker's page through one) can send, with whether each names a trusted origin.
const ORIGINS: [string, string | undefined, boolean][] = [
  ["absent", undefined, false],
  ["own", "https://gate.example.com", true],
  ["allowed CORS origin", ALLOWED, true],
  ["other site", "https://evil.example", false],
  ["null (redirected, sandboxed)", "null", false],
  ["sibling subdomain", "https://sibling.example.com", false],
  ["own, upper case", "HTTPS://GATE.EXAMPLE.COM", false],
  ["own, trailing slash", "https://gate.example.com/", false],
  ["own, other scheme", "http://gate.example.com", false],
  ["own, other port", "https://gate.example.com:8443", false],
  ["own as a prefix", "https://gate.example.com.evil.example", false],
  ["allowed, upper case", ALLOWED.toUpperCase(), false],
  ["allowed, explicit port", `${ALLOWED}:443`, false],
  ["two origins", `https://gate.example.com, ${ALLOWED}`, false],
];
const SITES = [undefined, "same-origin", "same-site", "cross-site", "none"] as const;

/** The rule: an exact trusted Origin, with `Sec-Fetch-Site` (when sent) consistent with it. */
function expected(origin: string | undefined, site: (typeof SITES)[number]): boolean {
  if (origin === "https://gate.example.com") return site === undefined || site === "same-origin";
  if (origin === ALLOWED) return site !== "same-origin" && site !== "none";
  return false;
}

describe("fromAllowedOrigin: who may write or open a socket with a cookie credential", () => {
  for (const [label, origin] of ORIGINS) {
    for (const site of SITES) {
      const want = expected(origin, site);
      it(`Origin ${label}, Sec-Fetch-Site ${site ?? "absent"} -> ${want}`, () => {
        const headers: Record<string, string> = {};
        if (origin !== undefined) headers.Origin = origin;
        if (site !== undefined) headers["Sec-Fetch-Site"] = site;
        expect(check(headers)).toBe(want);
      });
    }
  }

  it("a wildcard CORS policy never vouches for a cookie write (the config refuses the pair anyway)", () => {
    expect(() => gateConfig({ TOKENS_KV: env.TOKENS_KV, ORIGIN_URL: "http://o.test", AUTH_COOKIE: "c", CORS_ALLOW_ORIGINS: "*" })).toThrow();
  });
});

describe("needsOrigin: requests that change state or open a channel", () => {
  it.each([
    ["GET", {}, false],
    ["HEAD", {}, false],
    ["GET", { Accept: "text/event-stream" }, false],
    ["GET", { Upgrade: "websocket", Connection: "Upgrade" }, true],
    ["GET", { Upgrade: "h2c" }, true],
    ["HEAD", { Upgrade: "websocket" }, true],
    ["GET", { "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" }, true],
    ["GET", { "Sec-Fetch-Mode": "websocket" }, true],
    ["POST", {}, true],
    ["PUT", {}, true],
    ["PATCH", {}, true],
    ["DELETE", {}, true],
    ["OPTIONS", {}, true],
    ["PROPFIND", {}, true],
  ] as [string, Record<string, string>, boolean][])("%s %o -> %s", (method, headers, want) => {
    expect(needsOrigin(new Request(url, { method, headers }))).toBe(want);
  });
});

describe("the gate with a cookie credential (origin seam records what is forwarded)", () => {
  const ws = { Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" };
  const vars = { AUTH_COOKIE: "edgekv_token", CORS_ALLOW_ORIGINS: ALLOWED };

  it("a WebSocket upgrade from another site, a sibling, `null` or no Origin: 403 cross_site_request, nothing forwarded", async () => {
    const g = makeGate(vars);
    const { token } = await g.issue();
    const cookie = { Cookie: `edgekv_token=${token}` };
    const hostile: Record<string, string>[] = [
      {},
      { Origin: "https://evil.example" },
      { Origin: "https://sibling.gate.test" },
      { Origin: "null", "Sec-Fetch-Site": "same-site" },
      { "Sec-Fetch-Site": "same-origin" },
      { Origin: "https://gate.test", "Sec-Fetch-Site": "same-site" },
    ];
    for (const extra of hostile) {
      const res = await g.fetch("/socket", { headers: { ...cookie, ...ws, ...extra } });
      expect(res.status, JSON.stringify(extra)).toBe(403);
      expect(((await res.json()) as { error: string }).error).toBe("cross_site_request");
    }
    expect(g.received).toEqual([]);
  });

  it("`Origin: null` with `Sec-Fetch-Site: same-site` (a sibling's 307) cannot write with the cookie", async () => {
    const g = makeGate(vars);
    const { token } = await g.issue();
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      const res = await g.fetch("/account", {
        method,
        body: "x=1",
        headers: { Cookie: `edgekv_token=${token}`, Origin: "null", "Sec-Fetch-Site": "same-site" },
      });
      expect(res.status, method).toBe(403);
    }
    expect(g.received).toEqual([]);
  });

  it("the gate's own origin and an allowed CORS origin may upgrade and write; plain reads and bearer requests are not checked", async () => {
    const g = makeGate(vars);
    const { token } = await g.issue();
    const cookie = { Cookie: `edgekv_token=${token}` };
    expect((await g.fetch("/socket", { headers: { ...cookie, ...ws, Origin: "https://gate.test", "Sec-Fetch-Site": "same-origin" } })).status).toBe(200);
    expect((await g.fetch("/socket", { headers: { ...cookie, ...ws, Origin: ALLOWED, "Sec-Fetch-Site": "cross-site" } })).status).toBe(200);
    expect((await g.fetch("/account", { method: "POST", body: "x", headers: { ...cookie, Origin: "https://gate.test" } })).status).toBe(200);
    expect((await g.fetch("/page", { headers: { ...cookie, Origin: "https://evil.example", "Sec-Fetch-Site": "cross-site" } })).status).toBe(200);
    // A bearer header is something no other site can make a browser send.
    expect((await g.fetch("/socket", bearer(token, { ...ws, Origin: "https://evil.example" }))).status).toBe(200);
    expect((await g.fetch("/account", { method: "POST", body: "x", ...bearer(token, { Origin: "null" }) })).status).toBe(200);
    expect(g.received.map((r) => `${r.method} ${new URL(r.url).pathname} ${r.headers.upgrade ?? "-"}`)).toEqual([
      "GET /socket websocket",
      "GET /socket websocket",
      "POST /account -",
      "GET /page -",
      "GET /socket websocket",
      "POST /account -",
    ]);
  });
});
