// Attack class: cross-site request forgery with a cookie credential. Another
// site makes the victim's browser send a state-changing request; the browser
// attaches the gate's cookie. For a non-GET/HEAD request authenticated only
// by the cookie, the gate requires `Origin` to be exactly its own origin or one
// of CORS_ALLOW_ORIGINS (with `Sec-Fetch-Site`, when sent, agreeing), else 403
// and nothing is forwarded: no Origin, `null` and sibling subdomains are refused.
// Every combination, WebSocket upgrades included: cookie-csrf-matrix.test.ts.
// Defence: workers/auth/handler.ts `needsOrigin` / `fromAllowedOrigin`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevServer } from "../node/helpers/wrangler-dev.ts";
import { issueToken, startGate, startOrigin, stateDir, type Origin } from "./helpers.ts";

let app: Origin;
let gate: DevServer;
let state: Awaited<ReturnType<typeof stateDir>>;
let token: string;
const ALLOWED = "https://app.example.com";

beforeAll(async () => {
  app = await startOrigin("app");
  state = await stateDir("csrf");
  token = await issueToken(state.dir, ["--user", "alice"]);
  gate = await startGate(state.dir, app.url, { AUTH_COOKIE: "edgekv_token", CORS_ALLOW_ORIGINS: ALLOWED });
}, 180_000);

afterAll(async () => {
  await gate?.stop();
  await app?.close();
  await state?.remove();
});

async function send(method: string, headers: Record<string, string>): Promise<{ status: number; forwarded: boolean }> {
  const before = app.seen.length;
  const res = await fetch(`${gate.url}/account/email`, {
    method,
    headers,
    ...(method === "GET" || method === "HEAD" ? {} : { body: "email=attacker@evil.example" }),
  });
  await res.arrayBuffer();
  return { status: res.status, forwarded: app.seen.length > before };
}

describe("a cookie alone does not let another site write", () => {
  const cookie = () => ({ Cookie: `edgekv_token=${token}` });

  it("cross-site or unknown-origin writes with the cookie: 403, nothing forwarded", async () => {
    const self = new URL(gate.url).origin;
    const hostile: Record<string, string>[] = [
      {},
      { Origin: "https://evil.example" },
      { Origin: "null" },
      { Origin: `${self}.evil.example` },
      { Origin: `${self}/` },
      // (Another scheme on the same host:port is not tried here: wrangler dev rewrites an
      // Origin naming its own host:port to its own origin, which production does not do.)
      { Origin: ALLOWED.toUpperCase() },
      { Origin: `${ALLOWED}:443` },
      { "Sec-Fetch-Site": "cross-site" },
      { "Sec-Fetch-Site": "none" },
      // Without Origin, Sec-Fetch-Site alone vouches for nothing: browsers send Origin on every write.
      { "Sec-Fetch-Site": "same-origin" },
      { "Sec-Fetch-Site": "same-site" },
      // A sibling subdomain's 307: the browser keeps method, body and cookie, and sends Origin: null.
      { Origin: "null", "Sec-Fetch-Site": "same-site" },
      { Origin: "http://sibling.localhost", "Sec-Fetch-Site": "same-site" },
      { Origin: self, "Sec-Fetch-Site": "same-site" },
      { Origin: "https://evil.example", "Sec-Fetch-Site": "same-origin" },
      { Referer: `${self}/account` },
    ];
    for (const method of ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
      for (const extra of hostile) {
        const r = await send(method, { ...cookie(), ...extra });
        expect(r.status, `${method} ${JSON.stringify(extra)}`).toBe(403);
        expect(r.forwarded, `${method} ${JSON.stringify(extra)} was forwarded`).toBe(false);
      }
    }
  });

  it("writes from the gate's own origin and from an allowed CORS origin pass", async () => {
    const friendly: Record<string, string>[] = [
      { Origin: new URL(gate.url).origin },
      { Origin: new URL(gate.url).origin, "Sec-Fetch-Site": "same-origin" },
      { Origin: ALLOWED },
      { Origin: ALLOWED, "Sec-Fetch-Site": "same-site" },
      { Origin: ALLOWED, "Sec-Fetch-Site": "cross-site" },
    ];
    for (const extra of friendly) {
      const r = await send("POST", { ...cookie(), ...extra });
      expect(r.status, JSON.stringify(extra)).toBe(200);
      expect(r.forwarded).toBe(true);
    }
  });

  it("reads with the cookie, and writes with a bearer header (which no other site can set), are not affected", async () => {
    expect((await send("GET", { ...cookie(), Origin: "https://evil.example" })).status).toBe(200);
    expect((await send("POST", { Authorization: `Bearer ${token}`, Origin: "https://evil.example" })).status).toBe(200);
  });
});
