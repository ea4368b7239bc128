/**
 * WebSockets through the gate. The gate checks the token once, at the
 * upgrade; an open socket then outlives a revocation. To bound that, the gate
 * sits in the middle of an allowed socket (a WebSocketPair relaying both
 * ways) and closes it, with 1008 "token expired", when the token expires or
 * after MAX_SOCKET_SECONDS, whichever comes first. Relaying costs a little CPU
 * per message; that is the price of a bounded session.
 */

/** Longest an authorised WebSocket stays open; the client reconnects (and is checked again). */
export const MAX_SOCKET_SECONDS = 3600;
/** RFC 6455 policy violation: the credential no longer holds. */
export const CLOSE_EXPIRED = 1008;

type Socket = WebSocket;

function relay(from: Socket, to: Socket): void {
  from.addEventListener("message", (e) => {
    try {
      to.send(e.data);
    } catch {
      /* the other side is closing */
    }
  });
  from.addEventListener("close", (e) => safeClose(to, e.code === 1005 || e.code === 1006 ? 1000 : e.code, e.reason));
  from.addEventListener("error", () => safeClose(to, 1011, "peer error"));
}

function safeClose(s: Socket, code: number, reason: string): void {
  try {
    s.close(code, reason);
  } catch {
    /* already closed */
  }
}

/**
 * Wraps an origin's 101 response so the socket closes at `closeAtMs` (epoch ms).
 * A response without a WebSocket is returned as it is.
 * @example return boundSocket(await origin(req), Math.min(record.expiresAt, now + MAX_SOCKET_SECONDS * 1000), now);
 */
export function boundSocket(res: Response, closeAtMs: number, nowMs: number): Response {
  const upstream = res.webSocket;
  if (res.status !== 101 || !upstream) return res;
  const pair = new WebSocketPair();
  const client = pair[0];
  const server = pair[1];
  server.accept();
  upstream.accept();
  relay(server, upstream);
  relay(upstream, server);
  const timer = setTimeout(
    () => {
      safeClose(server, CLOSE_EXPIRED, "token expired");
      safeClose(upstream, 1000, "client session ended");
    },
    Math.max(0, closeAtMs - nowMs),
  );
  const stop = () => clearTimeout(timer);
  server.addEventListener("close", stop);
  upstream.addEventListener("close", stop);
  return new Response(null, { status: 101, headers: res.headers, webSocket: client });
}
