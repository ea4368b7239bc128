// Attack class: a long-lived connection that outlives the credential that
// opened it. The gate checks the token at the upgrade; an open socket would
// otherwise survive revocation and expiry forever. WebSockets keep working
// through the gate, unauthenticated upgrades never reach the origin, and an
// allowed socket is bounded by the token's expiry (workers/auth/socket.ts;
// the close at the deadline is tested in test/auth/socket.test.ts, since the
// shortest token lives 60 s).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevServer } from "../node/helpers/wrangler-dev.ts";
import { issueToken, raw, startGate, startOrigin, stateDir, type Origin } from "./helpers.ts";

let app: Origin;
let gate: DevServer;
let state: Awaited<ReturnType<typeof stateDir>>;
let token: string;

beforeAll(async () => {
  app = await startOrigin("app");
  state = await stateDir("ws");
  token = await issueToken(state.dir, ["--user", "alice", "--scope", "GET:/socket"]);
  gate = await startGate(state.dir, app.url);
}, 180_000);

afterAll(async () => {
  await gate?.stop();
  await app?.close();
  await state?.remove();
});

describe("WebSockets through the gate", () => {
  it("an authorised upgrade is relayed both ways", async () => {
    // undici's WebSocket takes headers (browsers would use the AUTH_COOKIE).
    const ws = new WebSocket(`${gate.url.replace("http", "ws")}/socket`, { headers: { Authorization: `Bearer ${token}` } } as unknown as string[]);
    const reply = await new Promise<string>((resolve, reject) => {
      ws.addEventListener("open", () => ws.send("ping"));
      ws.addEventListener("message", (e) => resolve(String(e.data)));
      ws.addEventListener("error", () => reject(new Error("websocket error")));
    });
    expect(reply).toBe("ping from origin");
    ws.close();
  });

  it("upgrades without a valid token, or outside the token's scope, never reach the origin", async () => {
    const before = app.seen.length;
    const upgrade = (path: string, auth: string) =>
      raw(
        gate.port,
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${auth}Connection: close\r\n\r\n`,
      );
    expect((await upgrade("/socket", "")).status).toBe(401);
    expect((await upgrade("/socket", "Authorization: Bearer ekv_000000000000000000000000000000\r\n")).status).toBe(401);
    expect((await upgrade("/other", `Authorization: Bearer ${token}\r\n`)).status).toBe(403);
    expect(app.seen.length).toBe(before);
  });
});
