// The one test origin: `npm start`'s blue/green, the soak's and the bench's
// origins, and the tests' recording origins are all this server with options.
// Run as a script (`node scripts/origin.ts '{"name":"bench","reply":"brief"}'`) it
// serves in its own process and prints its URL; see startOriginProcess.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { fileURLToPath, pathToFileURL } from "node:url";

/** What an origin saw of one request. */
export interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** Body length, hashed while it streams in (0 and "" for a WebSocket upgrade). */
  bytes: number;
  sha256: string;
}

/** Answers one request whose body has been read (the verifying origin's own decision, for one). */
export type ReplyHandler = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void | Promise<void>;

/**
 * How the origin answers:
 * - "echo": JSON of the request it saw plus `x-origin: <name>` (the tests' recording origin);
 * - "demo": its colour, as HTML for browsers and JSON for `Accept: application/json` or `/api/*`, plus `x-demo-origin`;
 * - "brief": a small `{ ok, path, user }` JSON (the bench: cheap, so the proxies are what is measured);
 * - a function: anything else.
 */
export type Reply = "echo" | "demo" | "brief" | ReplyHandler;

export interface OriginOptions {
  /** Default "echo". */
  reply?: Reply;
  /** 0 (the default) picks a free port; the port is kept across down()/up(). */
  port?: number;
  host?: string;
  /** Added before every answer; may be changed at runtime through `origin.delayMs`. */
  delayMs?: number;
  /** Keep `seen` (default true; the bench turns it off so memory stays flat). */
  record?: boolean;
  /** /slow never answers, /fail is a 503, /redirect a 302 (default: on for "echo"). */
  specialPaths?: boolean;
  /** Accept WebSocket upgrades and echo text frames as "<text> from origin" (default: on for "echo"). */
  websocket?: boolean;
  keepAliveTimeoutMs?: number;
}

export interface Origin {
  name: string;
  port: number;
  url: string;
  /** Every request received, in order (the same array for the origin's life, so a test may empty it). */
  seen: Recorded[];
  /** Delay before each answer, in ms; change it to slow the origin down. */
  delayMs: number;
  /** Refuses connections (closes every open one) until up(); the port stays reserved for up(). */
  down(): Promise<void>;
  /** Accepts connections again, on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

const COLORS: Record<string, string> = { blue: "#2563eb", green: "#16a34a" };
const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const header = (req: IncomingMessage, name: string) => {
  const v = req.headers[name];
  return typeof v === "string" ? v : undefined;
};

/** `npm start`'s page: the colour, so a user sees the split, with the identity headers the gate adds. */
function demoReply(color: string, req: IncomingMessage, rec: Recorded, res: ServerResponse): void {
  const user = header(req, "x-edgekv-user") ?? null;
  const payload = { color, method: req.method, path: req.url, user, scopes: req.headers["x-edgekv-scopes"] ?? null, bodyBytes: rec.bytes };
  const wantsJson = (req.headers.accept ?? "").includes("application/json") || (req.url ?? "").startsWith("/api/");
  if (wantsJson) {
    res.writeHead(200, { "content-type": "application/json", "x-demo-origin": color });
    res.end(JSON.stringify(payload));
    return;
  }
  res.writeHead(200, { "content-type": "text/html; charset=utf-8", "x-demo-origin": color });
  res.end(`<!doctype html><meta charset="utf-8"><title>${color}</title>
<body style="font:20px system-ui;background:${COLORS[color] ?? "#444"};color:#fff;display:grid;place-items:center;height:100vh;margin:0">
<div><h1>${color.toUpperCase()} origin</h1><p>${req.method} ${escapeHtml(req.url ?? "")}</p><p>user: ${escapeHtml(user ?? "(none)")}</p></div>`);
}

/** The recording origin's answers, special paths included. */
function echoReply(name: string, special: boolean, rec: Recorded, res: ServerResponse): void {
  if (special && rec.url === "/slow") return; // never answers
  if (special && rec.url === "/redirect") {
    res.writeHead(302, { location: "/elsewhere", "x-origin": name });
    res.end();
    return;
  }
  if (special && rec.url === "/fail") {
    res.writeHead(503, { "x-origin": name });
    res.end("failing");
    return;
  }
  res.writeHead(200, { "content-type": "application/json", "x-origin": name, connection: "keep-alive" });
  res.end(JSON.stringify({ origin: name, method: rec.method, url: rec.url, headers: rec.headers, bytes: rec.bytes, sha256: rec.sha256 }));
}

function briefReply(req: IncomingMessage, res: ServerResponse): void {
  const body = JSON.stringify({ ok: true, path: req.url, user: header(req, "x-edgekv-user") ?? null });
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
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

function acceptWebSocket(name: string, req: IncomingMessage, socket: Socket): void {
  const accept = createHash("sha1").update(`${req.headers["sec-websocket-key"]}${WS_GUID}`).digest("base64");
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nx-origin: ${name}\r\n\r\n`);
  socket.on("data", (buf: Buffer) => {
    if ((buf[0]! & 0x0f) === 0x1) echoFrame(socket, buf);
    else if ((buf[0]! & 0x0f) === 0x8) socket.end(Buffer.from([0x88, 0]));
  });
}

/** The request handler: read (and hash) the body, record, wait the delay, answer. */
function handler(origin: Origin, opts: Required<Omit<OriginOptions, "port" | "host" | "delayMs" | "keepAliveTimeoutMs">>) {
  const { reply, record, specialPaths } = opts;
  return (req: IncomingMessage, res: ServerResponse) => {
    const hash = createHash("sha256");
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on("data", (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
      if (typeof reply === "function") chunks.push(c);
    });
    req.on("end", () => {
      const rec: Recorded = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, bytes, sha256: hash.digest("hex") };
      if (record) origin.seen.push(rec);
      const answer = () => {
        if (typeof reply === "function") void reply(req, Buffer.concat(chunks), res);
        else if (reply === "demo") demoReply(origin.name, req, rec, res);
        else if (reply === "brief") briefReply(req, res);
        else echoReply(origin.name, specialPaths, rec, res);
      };
      if (origin.delayMs > 0) setTimeout(answer, origin.delayMs);
      else answer();
    });
  };
}

/**
 * Starts an origin on loopback (a free port unless `port` is given).
 * @example const blue = await startOrigin("blue", { reply: "demo", port: 8790 });
 * @example const app = await startOrigin("app"); // records, echoes, /slow /fail /redirect, WebSocket echo
 */
export async function startOrigin(name: string, options: OriginOptions = {}): Promise<Origin> {
  const reply = options.reply ?? "echo";
  const host = options.host ?? "127.0.0.1";
  const opts = {
    reply,
    record: options.record ?? true,
    specialPaths: options.specialPaths ?? reply === "echo",
    websocket: options.websocket ?? reply === "echo",
  };
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  const origin: Origin = {
    name,
    port: options.port ?? 0,
    url: "",
    seen: [],
    delayMs: options.delayMs ?? 0,
    async down() {
      const s = server;
      server = undefined;
      if (!s) return;
      // Upgraded sockets are no longer the server's: destroy every socket it ever accepted.
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((r) => s.close(() => r()));
    },
    async up() {
      if (server) return;
      const s = createServer(handler(origin, opts));
      if (options.keepAliveTimeoutMs !== undefined) s.keepAliveTimeout = options.keepAliveTimeoutMs;
      s.on("connection", (sock: Socket) => {
        sockets.add(sock);
        sock.on("close", () => sockets.delete(sock));
      });
      if (opts.websocket) {
        s.on("upgrade", (req: IncomingMessage, sock: Socket) => {
          if (opts.record) origin.seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, bytes: 0, sha256: "" });
          acceptWebSocket(name, req, sock);
        });
      }
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject);
        s.listen(origin.port, host, () => resolve());
      });
      const addr = s.address();
      origin.port = typeof addr === "object" && addr ? addr.port : origin.port;
      origin.url = `http://${host}:${origin.port}`;
      server = s;
    },
    close: () => origin.down(),
  };
  await origin.up();
  return origin;
}

/** `npm start`'s blue or green origin, on a fixed port. */
export type DemoOrigin = Origin;

/**
 * @example const blue = await startDemoOrigin("blue", 8790);
 */
export function startDemoOrigin(color: string, port: number, host = "127.0.0.1"): Promise<DemoOrigin> {
  return startOrigin(color, { reply: "demo", port, host });
}

/** Options a child process can take (a reply function cannot cross the process boundary). */
export type ProcessOriginOptions = Omit<OriginOptions, "reply"> & { reply?: Exclude<Reply, ReplyHandler> };

export interface OriginProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * The same origin in its own Node process, so it does not share an event loop
 * with a load generator (the bench).
 * @example const o = await startOriginProcess("bench", { reply: "brief", record: false }); ...; await o.stop();
 */
export function startOriginProcess(name: string, options: ProcessOriginOptions = {}): Promise<OriginProcess> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), JSON.stringify({ name, ...options })], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`origin process exited (${code}) before listening`)));
    child.stdout.once("data", (d: Buffer) => {
      resolve({
        url: d.toString().trim(),
        pid: child.pid!,
        stop: () =>
          new Promise<void>((r) => {
            if (child.exitCode !== null) return r();
            child.once("exit", () => r());
            child.kill("SIGTERM");
          }),
      });
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { name, ...options } = JSON.parse(process.argv[2] ?? "{}") as ProcessOriginOptions & { name?: string };
  const origin = await startOrigin(name ?? "origin", options);
  process.stdout.write(`${origin.url}\n`);
  process.on("SIGTERM", () => process.exit(0));
}
