import { describe, expect, it } from "vitest";
import { CLOSE_EXPIRED, boundSocket } from "../../workers/auth/socket.ts";

function next(ws: WebSocket, type: "message" | "close"): Promise<MessageEvent | CloseEvent> {
  return new Promise((resolve) => ws.addEventListener(type, (e) => resolve(e as MessageEvent | CloseEvent), { once: true }));
}

describe("boundSocket: an authorised WebSocket is relayed and closed when the token expires", () => {
  it("relays both ways, then closes the client with 1008 at the deadline", async () => {
    const origin = new WebSocketPair();
    const originSide = origin[1];
    originSide.accept();
    const now = Date.now();
    const res = boundSocket(new Response(null, { status: 101, webSocket: origin[0] }), now + 300, now);
    expect(res.status).toBe(101);
    const client = res.webSocket!;
    client.accept();
    const atOrigin = next(originSide, "message");
    client.send("ping");
    expect(((await atOrigin) as MessageEvent).data).toBe("ping");
    const atClient = next(client, "message");
    originSide.send("pong");
    expect(((await atClient) as MessageEvent).data).toBe("pong");
    const closed = (await next(client, "close")) as CloseEvent;
    expect(closed.code).toBe(CLOSE_EXPIRED);
    expect(Date.now() - now).toBeGreaterThanOrEqual(250);
  });

  it("leaves a response without a socket alone", () => {
    const res = new Response("x");
    expect(boundSocket(res, 0, 0)).toBe(res);
  });
});
