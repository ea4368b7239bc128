// End to end: the real CLI writes tokens into the state `wrangler dev --env auth`
// reads; requests go over real HTTP; the origin is a real Node server that
// verifies EVERY request's identity assertion with `jose` against the gate's
// JWKS (as docs/auth.md shows) and records everything it receives.
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatePrivateJwk } from "../../../workers/auth/assertion.ts";
import { cli, runCli } from "../helpers/cli.ts";
import { freePort } from "../helpers/ports.ts";
import { ASSERTION_HEADER, identityEnvFile, startVerifyingOrigin, type Verdict, type VerifyingOrigin } from "../helpers/verifying-origin.ts";
import { startWranglerDev, type DevServer } from "../helpers/wrangler-dev.ts";

const ALLOW_CACHE_SECONDS = 2;
/** ORIGIN_URL has a path prefix: with the old HMAC headers every signature failed there. */
const PREFIX = "/app";

let dir: string;
let origin: VerifyingOrigin;
let dev: DevServer;
let seen: Verdict[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-auth-e2e-"));
  const [originPort, gatePort] = [await freePort(), await freePort()];
  origin = await startVerifyingOrigin({
    name: "app",
    issuer: `http://127.0.0.1:${gatePort}`,
    audience: `http://127.0.0.1:${originPort}`,
    publicPrefixes: [`${PREFIX}/health`, `${PREFIX}/public`],
    port: originPort,
  });
  seen = origin.seen;
  dev = await startWranglerDev({
    env: "auth",
    persistTo: dir,
    port: gatePort,
    vars: { ORIGIN_URL: `${origin.url}${PREFIX}`, ALLOW_CACHE_SECONDS: String(ALLOW_CACHE_SECONDS) },
    envFile: await identityEnvFile(dir, await generatePrivateJwk("EdDSA")),
  });
  seen.length = 0; // drop anything the readiness probe caused (it should be nothing)
}, 120_000);

afterAll(async () => {
  await dev?.stop();
  await origin?.close();
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

describe("edgekv-auth through wrangler dev, in front of a real origin", () => {
  it("rejects without a token and the origin sees nothing; /health passes", async () => {
    const res = await fetch(`${dev.url}/private`);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="edgekv"');
    expect(seen).toEqual([]);
    const health = await fetch(`${dev.url}/health`);
    expect(health.status).toBe(200);
    expect(seen.map((s) => s.url)).toEqual([`${PREFIX}/health`]);
    seen.length = 0;
  });

  it("a CLI-issued token passes; the origin verifies the assertion with jose (user, scope, htm, htu with the ORIGIN_URL prefix and query); spoofed headers and a client-sent assertion are replaced", async () => {
    const token = await issue(["--user", "alice", "--scope", "POST:/api/*", "--scope", "GET:/api/*"]);
    const res = await fetch(`${dev.url}/api/items?page=2&q=a%20b`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${token}`,
        "X-Edgekv-User": "root",
        "x-edgekv-scopes": "*",
        [ASSERTION_HEADER]: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJyb290In0.",
        "Content-Type": "application/json",
      },
      body: JSON.stringify({ name: "x".repeat(100_000) }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ origin: "app", sub: "alice" });
    expect(seen).toHaveLength(1);
    const s = seen[0]!;
    expect(s.ok, s.reason).toBe(true);
    expect(s.method).toBe("POST");
    expect(s.url).toBe(`${PREFIX}/api/items?page=2&q=a%20b`);
    expect(JSON.parse(s.body)).toEqual({ name: "x".repeat(100_000) });
    expect(s.claims).toMatchObject({ sub: "alice", scope: "POST:/api/* GET:/api/*", htm: "POST", htu: `${origin.url}${PREFIX}/api/items?page=2&q=a%20b` });
    expect(s.claims!.exp! - s.claims!.iat!).toBe(60);
    expect(s.headers["x-edgekv-user"]).toBe("alice");
    expect(s.headers["x-edgekv-scopes"]).toBe("POST:/api/* GET:/api/*");
    expect(s.headers.authorization).toBeUndefined();
    expect(dev.output()).not.toContain(token);
    seen.length = 0;
  });

  it("the JWKS is public at both paths and never holds the private key", async () => {
    for (const path of ["/.well-known/jwks.json", "/__edgekv/jwks.json"]) {
      const res = await fetch(`${dev.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("public, max-age=300");
      const jwks = (await res.json()) as { keys: Record<string, string>[] };
      expect(jwks.keys).toHaveLength(1);
      expect(jwks.keys[0]).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig" });
      expect(jwks.keys[0]!.d).toBeUndefined();
    }
    expect(seen).toEqual([]);
  });

  it("every request the origin received through the gate verified; one sent around the gate with the gate's headers does not", async () => {
    const token = await issue(["--user", "erin"]);
    for (const [method, path] of [
      ["GET", "/a"],
      ["DELETE", "/b/c?x=1"],
      ["PUT", "/d/"],
      ["PATCH", "/e;f"],
    ] as const) {
      const res = await fetch(`${dev.url}${path}`, { method, headers: { Authorization: `Bearer ${token}` }, body: method === "GET" ? null : "x" });
      await res.arrayBuffer();
    }
    const through = seen.splice(0);
    expect(through.length).toBeGreaterThanOrEqual(3);
    for (const s of through) expect(s.ok, `${s.method} ${s.url}: ${s.reason}`).toBe(true);
    // The attacker copies everything the origin got (identity headers, the assertion) to another path, straight at the origin.
    const stolen = through[0]!;
    const res = await fetch(`${origin.url}${PREFIX}/admin`, {
      headers: { "x-edgekv-user": "erin", "x-edgekv-scopes": "*", [ASSERTION_HEADER]: String(stolen.headers[ASSERTION_HEADER]) },
    });
    expect(res.status).toBe(401);
    expect(seen.splice(0).map((s) => s.reason)).toEqual(["htu mismatch"]);
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
    const revoked = await runCli(["token", "revoke", "--user", "dave", "--persist-to", dir, "--yes"]);
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
