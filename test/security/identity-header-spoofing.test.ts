// Attack class: a client sends the headers an origin trusts as "who is
// calling" or "what was asked for", and the gate passes them on (oauth2-proxy's
// CVE-2026-40575 is this class). Identity names of every common proxy, path
// overrides (X-Original-URL...), forwarding claims and our own x-edgekv-*,
// in any case, repeated, or folded into another header's value: the origin
// sees only what the gate itself set.
// Defence: workers/auth/strip.ts, plus IDENTITY_HEADERS for more names.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevServer } from "../node/helpers/wrangler-dev.ts";
import { issueToken, raw, rawRequest, startGate, startOrigin, stateDir, type Origin } from "./helpers.ts";

let app: Origin;
let gate: DevServer;
let state: Awaited<ReturnType<typeof stateDir>>;
let token: string;

const SPOOFED = [
  "X-Forwarded-User",
  "X-Forwarded-Email",
  "X-Forwarded-Preferred-Username",
  "X-Forwarded-Groups",
  "X-Forwarded-Access-Token",
  "Remote-User",
  "X-Remote-User",
  "X-Remote-Email",
  "X-Auth-Request-User",
  "X-Auth-Request-Email",
  "X-Auth-Request-Groups",
  "X-Auth-Request-Access-Token",
  "X-User",
  "X-Email",
  "Cf-Access-Authenticated-User-Email",
  "Cf-Access-Jwt-Assertion",
  "CF-Access-Client-Id",
  "X-Edgekv-User",
  "X-EDGEKV-SCOPES",
  "x-edgekv-token-id",
  "x-edgekv-jwt-assertion",
  "X-Amzn-Oidc-Identity",
  "X-Goog-Authenticated-User-Email",
  "X-Ms-Client-Principal-Name",
  "X-Consumer-Username",
  "X-Authenticated-Userid",
  "X-Webauth-User",
  "X-Custom-Identity",
  "X-Original-URL",
  "X-Rewrite-URL",
  "X-Forwarded-Uri",
  "X-Original-URI",
  "Forwarded",
  "X-Forwarded-Host",
  "Proxy-Authorization",
  "X-HTTP-Method-Override",
  "X-Forwarded-For",
  "X-Real-IP",
  "True-Client-IP",
  "X-Client-IP",
  "Client-IP",
  "X-Cluster-Client-IP",
];

beforeAll(async () => {
  app = await startOrigin("app");
  state = await stateDir("identity");
  token = await issueToken(state.dir, ["--user", "alice"]);
  // X-Custom-Identity is this deployment's own name, added with IDENTITY_HEADERS.
  gate = await startGate(state.dir, app.url, { PUBLIC_PATHS: "/public/*", IDENTITY_HEADERS: "X-Custom-Identity" });
}, 180_000);

afterAll(async () => {
  await gate?.stop();
  await app?.close();
  await state?.remove();
});

const ATTACK = "attacker@evil.example";

function assertClean(headers: Record<string, string | string[] | undefined>, label: string): void {
  for (const [name, value] of Object.entries(headers)) {
    expect(String(value), `${label}: ${name} carried the client's value`).not.toContain(ATTACK);
  }
}

describe("client-sent identity and override headers never reach the origin", () => {
  for (const [label, path, auth] of [
    ["authenticated", "/private", true],
    ["public path", "/public/x", false],
  ] as const) {
    it(`${label}: every name, in any case, alone or all at once`, async () => {
      const headersFor = (name: string) => ({ ...(auth ? { Authorization: `Bearer ${token}` } : {}), [name]: ATTACK });
      for (const name of SPOOFED) {
        // `_` for `-`: CGI/PHP/WSGI map both to the same HTTP_X_... variable.
        for (const spelled of [name, name.toLowerCase(), name.toUpperCase(), name.replace(/-/g, "_")]) {
          const before = app.seen.length;
          const r = await raw(gate.port, rawRequest(path, headersFor(spelled)));
          expect(r.status, spelled).toBe(200);
          assertClean(app.seen.slice(before)[0]!.headers, spelled);
        }
      }
      // All at once, each twice.
      const all = SPOOFED.flatMap((n) => [`${n}: ${ATTACK}`, `${n.toLowerCase()}: ${ATTACK}`]).join("\r\n");
      const before = app.seen.length;
      const authLine = auth ? `Authorization: Bearer ${token}\r\n` : "";
      const r = await raw(gate.port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${authLine}${all}\r\nConnection: close\r\n\r\n`);
      expect(r.status).toBe(200);
      assertClean(app.seen.slice(before)[0]!.headers, "all at once");
    });
  }

  it("the gate's own identity is what the origin sees for an authenticated request", async () => {
    const before = app.seen.length;
    await raw(gate.port, rawRequest("/private", { Authorization: `Bearer ${token}`, "X-Edgekv-User": "root" }));
    const h = app.seen.slice(before)[0]!.headers;
    expect(h["x-edgekv-user"]).toBe("alice");
  });
});
