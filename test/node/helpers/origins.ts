import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Socket } from "node:net";

export interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  bytes: number;
  sha256: string;
}

export interface Origin {
  name: string;
  url: string;
  seen: Recorded[];
  close(): Promise<void>;
}

/** Echoes one masked client text frame back unmasked (enough for a passthrough check). */
function echoFrame(socket: Socket, buf: Buffer): void {
  const len = buf[1]! & 0x7f;
  if (len > 125) return;
  const mask = buf.subarray(2, 6);
  const payload = Buffer.from(buf.subarray(6, 6 + len).map((b, i) => b ^ mask[i % 4]!));
  const out = Buffer.from(`${payload.toString()} from origin`);
  socket.write(Buffer.concat([Buffer.from([0x81, out.length]), out]));
}

/**
 * A real HTTP origin on a free loopback port that records what it receives.
 * Paths: /redirect (302), /slow (never answers), /fail (503), anything else
 * answers JSON with the request it saw (body hashed while it streams in).
 */
export async function startOrigin(name: string): Promise<Origin> {
  const seen: Recorded[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const hash = createHash("sha256");
    let bytes = 0;
    req.on("data", (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
    });
    req.on("end", () => {
      const rec = { method: req.method!, url: req.url!, headers: req.headers, bytes, sha256: hash.digest("hex") };
      seen.push(rec);
      if (req.url === "/slow") return; // never answers
      if (req.url === "/redirect") {
        res.writeHead(302, { location: "/elsewhere", "x-origin": name });
        res.end();
        return;
      }
      if (req.url === "/fail") {
        res.writeHead(503, { "x-origin": name });
        res.end("failing");
        return;
      }
      res.writeHead(200, { "content-type": "application/json", "x-origin": name, connection: "keep-alive" });
      res.end(JSON.stringify({ origin: name, ...rec }));
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("upgrade", (req, socket: Socket) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, bytes: 0, sha256: "" });
    const accept = createHash("sha1").update(`${req.headers["sec-websocket-key"]}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nx-origin: ${name}\r\n\r\n`);
    socket.on("data", (buf: Buffer) => {
      if ((buf[0]! & 0x0f) === 0x1) echoFrame(socket, buf);
      else if ((buf[0]! & 0x0f) === 0x8) socket.end(Buffer.from([0x88, 0]));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
