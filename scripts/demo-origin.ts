import { createServer, type IncomingHttpHeaders, type Server } from "node:http";

/** What a demo origin saw of one request (tests assert on it). */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  bodyBytes: number;
}

export interface DemoOrigin {
  color: string;
  port: number;
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

const COLORS: Record<string, string> = { blue: "#2563eb", green: "#16a34a" };

/**
 * A tiny origin that answers with its colour, so a user sees the split:
 * HTML for browsers, JSON for `Accept: application/json` or `/api/*`.
 * It echoes the identity headers the auth gate adds.
 * @example const blue = await startDemoOrigin("blue", 8790);
 */
export function startDemoOrigin(color: string, port: number, host = "127.0.0.1"): Promise<DemoOrigin> {
  const seen: SeenRequest[] = [];
  const server: Server = createServer((req, res) => {
    let bodyBytes = 0;
    req.on("data", (chunk: Buffer) => (bodyBytes += chunk.byteLength));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, bodyBytes });
      const user = req.headers["x-edgekv-user"];
      const payload = {
        color,
        method: req.method,
        path: req.url,
        user: typeof user === "string" ? user : null,
        scopes: req.headers["x-edgekv-scopes"] ?? null,
        bodyBytes,
      };
      const wantsJson = (req.headers.accept ?? "").includes("application/json") || (req.url ?? "").startsWith("/api/");
      if (wantsJson) {
        res.writeHead(200, { "content-type": "application/json", "x-demo-origin": color });
        res.end(JSON.stringify(payload));
        return;
      }
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "x-demo-origin": color });
      res.end(`<!doctype html><meta charset="utf-8"><title>${color}</title>
<body style="font:20px system-ui;background:${COLORS[color] ?? "#444"};color:#fff;display:grid;place-items:center;height:100vh;margin:0">
<div><h1>${color.toUpperCase()} origin</h1><p>${req.method} ${escapeHtml(req.url ?? "")}</p><p>user: ${escapeHtml(payload.user ?? "(none)")}</p></div>`);
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const addr = server.address();
      const actual = typeof addr === "object" && addr ? addr.port : port;
      resolve({
        color,
        port: actual,
        url: `http://${host}:${actual}`,
        seen,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
