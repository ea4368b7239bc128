// End to end: the real CLI writes tokens into the state `wrangler dev --env auth`
// reads; requests go over real HTTP; the origin is a real Node server that
// records everything it receives.
import { createHmac, timingSafeEqual } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, runCli } from "../helpers/cli.ts";
import { freePort } from "../helpers/ports.ts";
import { startWranglerDev, type DevServer } from "../helpers/wrangler-dev.ts";

const SECRET = "e2e-identity-secret";
const ALLOW_CACHE_SECONDS = 2;

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let dir: string;
let origin: Server;
let dev: DevServer;
const seen: Seen[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-auth-e2e-"));
  const port = await freePort();
  origin = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      res.writeHead(200, { "content-type": "text/plain", "x-origin": "yes" }).end(`origin saw ${req.method} ${req.url}`);
    });
  });
  await new Promise<void>((r) => origin.listen(port, "127.0.0.1", r));
  dev = await startWranglerDev({
    env: "auth",
    persistTo: dir,
    vars: { ORIGIN_URL: `http://127.0.0.1:${port}`, IDENTITY_SECRET: SECRET, ALLOW_CACHE_SECONDS: String(ALLOW_CACHE_SECONDS) },
  });
  seen.length = 0; // drop anything the readiness probe caused (it should be nothing)
}, 120_000);

afterAll(async () => {
  await dev?.stop();
  await new Promise((r) => origin?.close(r));
  await rm(dir, { recursive: true, force: true });
});

async function issue(args: string[]): Promise<string> {
  const r = await cli(["token", "issue", ...args, "--persist-to", dir]);
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

/** Sends bytes as they are (fetch would normalise the path and refuse bad headers). */
function raw(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(dev.port, "127.0.0.1", () => sock.end(request));
    let out = "";
    sock.on("data", (d: Buffer) => (out += d.toString("latin1")));
    sock.on("end", () => resolve(out));
    sock.on("error", reject);
    sock.setTimeout(10_000, () => sock.destroy(new Error("raw request timed out")));
  });
}

/** The origin-side check, as docs/auth.md shows it. */
function verifyIdentity(headers: IncomingHttpHeaders, method: string, path: string, secret: string, nowSec: number): boolean {
  const h = (n: string) => String(headers[n] ?? "");
  const ts = Number(h("x-edgekv-timestamp"));
  if (!Number.isInteger(ts) || Math.abs(nowSec - ts) > 60) return false;
  const payload = ["v1", h("x-edgekv-user"), h("x-edgekv-scopes"), h("x-edgekv-token-expires"), method, path, ts].join("\n");
  const expected = createHmac("sha256", secret).update(payload).digest("base64url");
  const got = Buffer.from(h("x-edgekv-signature"));
  return got.length === expected.length && timingSafeEqual(got, Buffer.from(expected));
}

describe("edgekv-auth through wrangler dev, in front of a real origin", () => {
  it("rejects without a token and the origin sees nothing; /health passes", async () => {
    const res = await fetch(`${dev.url}/private`);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="edgekv"');
    expect(seen).toEqual([]);
    const health = await fetch(`${dev.url}/health`);
    expect(health.status).toBe(200);
    expect(seen.map((s) => s.url)).toEqual(["/health"]);
    seen.length = 0;
  });

  it("a CLI-issued token passes; the origin sees the real user (spoofed header overwritten), a valid signature, no Authorization", async () => {
    const token = await issue(["--user", "alice", "--scope", "POST:/api/*", "--scope", "GET:/api/*"]);
    const res = await fetch(`${dev.url}/api/items?page=2`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "X-Edgekv-User": "root", "x-edgekv-scopes": "*", "Content-Type": "application/json" },
      body: JSON.stringify({ name: "x".repeat(100_000) }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-origin")).toBe("yes");
    expect(seen).toHaveLength(1);
    const s = seen[0]!;
    expect(s.method).toBe("POST");
    expect(s.url).toBe("/api/items?page=2");
    expect(JSON.parse(s.body)).toEqual({ name: "x".repeat(100_000) });
    expect(s.headers["x-edgekv-user"]).toBe("alice");
    expect(s.headers["x-edgekv-scopes"]).toBe("POST:/api/* GET:/api/*");
    expect(s.headers.authorization).toBeUndefined();
    expect(verifyIdentity(s.headers, "POST", "/api/items", SECRET, Math.floor(Date.now() / 1000))).toBe(true);
    expect(verifyIdentity(s.headers, "GET", "/api/items", SECRET, Math.floor(Date.now() / 1000))).toBe(false);
    expect(dev.output()).not.toContain(token);
    seen.length = 0;
  });

  it("every rejection class never reaches the origin", async () => {
    const token = await issue(["--user", "bob", "--scope", "GET:/api/*"]);
    const cases: [string, RequestInit, number][] = [
      ["/api/x", { headers: { Authorization: `Bearer ${token.slice(0, -1)}${token.endsWith("Z") ? "Y" : "Z"}` } }, 401],
      ["/api/x", { headers: { Authorization: "Bearer ekv_000000000000000000000000000000" } }, 401],
      ["/api/x", { headers: { Authorization: `Bearer ${token}, Bearer ${token}` } }, 400],
      [`/api/x?access_token=${token}`, {}, 400],
      ["/api/x", { method: "DELETE", headers: { Authorization: `Bearer ${token}` } }, 403],
      ["/admin", { headers: { Authorization: `Bearer ${token}`, "X-Forwarded-Uri": "/api/x", "X-Original-URI": "/api/x" } }, 403],
      ["/api/x", { method: "HEAD" }, 401],
      ["/api/x", { headers: { Authorization: `Bearer ${"A".repeat(9000)}` } }, 400],
    ];
    for (const [path, init, status] of cases) {
      const res = await fetch(`${dev.url}${path}`, init);
      expect(res.status, `${init.method ?? "GET"} ${path}`).toBe(status);
      await res.arrayBuffer();
    }
    expect(seen).toEqual([]);
  });

  it("raw requests: dot segments, encoded dots, CRLF and non-ASCII bytes never reach a protected path", async () => {
    const token = await issue(["--user", "carol"]);
    const replies = [
      await raw("GET /public/../private HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
      await raw("GET /public/%2e%2e/private HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
      await raw("GET /public/..%2fprivate HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
      // A bare CR inside the Authorization value, and an obs-fold continuation carrying an identity header.
      await raw(`GET /private HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\rX-Edgekv-User: root\r\nConnection: close\r\n\r\n`),
      await raw(`GET /private HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n X-Edgekv-User: root\r\nConnection: close\r\n\r\n`),
      await raw(`GET /private HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ekv_\xfc\xff${token.slice(6)}\r\nConnection: close\r\n\r\n`),
    ];
    for (const r of replies) expect(r).toMatch(/^HTTP\/1\.1 4\d\d /);
    expect(seen).toEqual([]);
  });

  it(`a CLI revocation is enforced within the stated bound (ALLOW_CACHE_SECONDS=${ALLOW_CACHE_SECONDS} locally; no KV propagation delay)`, async () => {
    const token = await issue(["--user", "dave"]);
    const get = () => fetch(`${dev.url}/r`, { headers: { Authorization: `Bearer ${token}` } }).then(async (r) => (await r.arrayBuffer(), r.status));
    expect(await get()).toBe(200); // now cached in the isolate
    const revoked = await runCli(["token", "revoke", "--user", "dave", "--persist-to", dir]);
    expect(revoked.code).toBe(0);
    const start = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - start < (ALLOW_CACHE_SECONDS + 10) * 1000) {
      status = await get();
      if (status === 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(401);
    // Bound + 1 s for polling and process scheduling on a busy machine.
    expect(Date.now() - start).toBeLessThanOrEqual((ALLOW_CACHE_SECONDS + 1) * 1000);
    seen.length = 0;
    expect(await get()).toBe(401);
    expect(seen).toEqual([]);
  });
});
