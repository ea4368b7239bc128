/**
 * Attack class: the Cloudflare API token of `--remote` sent where an attacker wants it,
 * or leaked, and the API's answers used against the CLI. The token is the key to the
 * account's KV (every site, rollout and token record), so:
 *  - CLOUDFLARE_API_BASE_URL must be https (plain http only to this machine), without
 *    credentials; a redirect from the API is never followed (the token would go along);
 *  - whatever the server says is printed without the token (a hostile or broken server
 *    that echoes the Authorization header), cut and without control characters;
 *  - a response is read up to a bound (a value larger than KV allows is refused, not buffered);
 *  - a key is one URL path segment: `../` in a key cannot reach another namespace or route.
 * Everything runs the real `edgekv` binary; the "evil" servers are plain HTTP servers
 * that record what reaches them.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../node/helpers/cli.ts";
import { NAMESPACE_IDS, remoteProject, type RemoteProject } from "../node/helpers/remote.ts";

const TOKEN = "secret-api-token-0123456789abcdefSECRET";

interface Evil {
  url: string;
  seen: { method: string; url: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

async function evilServer(
  answer: (req: { method: string; url: string; headers: IncomingHttpHeaders }) => { status: number; headers?: Record<string, string>; body: string | Buffer },
): Promise<Evil> {
  const seen: Evil["seen"] = [];
  const server: Server = createServer((req, res) => {
    const r = { method: req.method ?? "", url: req.url ?? "", headers: req.headers };
    seen.push(r);
    req.resume();
    const a = answer(r);
    res.writeHead(a.status, { "content-type": "application/json", ...a.headers });
    res.end(a.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/client/v4`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let p: RemoteProject;
const servers: Evil[] = [];
beforeAll(async () => {
  p = await remoteProject();
});
afterAll(() => p?.close());
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

const run = (args: string[], env: Record<string, string>) =>
  runCli([...args, "--remote", "--config", p.config], { env: { ...p.env, CLOUDFLARE_API_TOKEN: TOKEN, ...env } });

describe("the token goes to the configured API and nowhere else", () => {
  it.each([
    ["http://api.example.com/client/v4", "must be https"],
    ["http://10.0.0.1/client/v4", "must be https"],
    ["https://user:pass@api.example.com/client/v4", "must not hold credentials"],
    ["https://api.example.com/client/v4?x=1", "must not have a query"],
  ])("refuses CLOUDFLARE_API_BASE_URL=%s", async (base, why) => {
    const r = await run(["kv", "get", "k", "--env", "site"], { CLOUDFLARE_API_BASE_URL: base });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(why);
    expect(r.stdout + r.stderr).not.toContain("SECRET");
  });

  it("does not follow a redirect from the API (the evil target sees nothing)", async () => {
    const evil = await evilServer(() => ({ status: 200, body: JSON.stringify({ success: true, errors: [], messages: [], result: {} }) }));
    const api = await evilServer((req) => ({ status: 307, headers: { location: `${evil.url.replace("/client/v4", "")}${req.url}` }, body: "" }));
    servers.push(evil, api);
    const r = await run(["kv", "put", "k", "v", "--env", "site"], { CLOUDFLARE_API_BASE_URL: api.url });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("redirect (HTTP 307); not followed");
    expect(api.seen.length).toBe(1);
    expect(evil.seen).toEqual([]);
    expect(r.stdout + r.stderr).not.toContain("SECRET");
  });
});

describe("what the server says is printed safely", () => {
  it("an error message that echoes the Authorization header is printed without the token, on one line", async () => {
    const echo = await evilServer((req) => ({
      status: 400,
      body: JSON.stringify({
        success: false,
        errors: [{ code: 1000, message: `bad header ${req.headers.authorization}\n\u001b[31mfake line` }],
        messages: [],
        result: null,
      }),
    }));
    servers.push(echo);
    const r = await run(["kv", "put", "k", "v", "--env", "site"], { CLOUDFLARE_API_BASE_URL: echo.url });
    expect(r.code).toBe(1);
    expect(echo.seen[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(r.stderr).toContain("bad header Bearer [redacted]");
    expect(r.stderr).not.toContain("SECRET");
    expect(r.stderr).not.toContain("\u001b");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("a value larger than KV allows is refused, not buffered", async () => {
    const big = Buffer.alloc(30 * 1024 * 1024, 0x61);
    const huge = await evilServer((req) =>
      req.url.includes("/values/")
        ? { status: 200, headers: { "content-type": "application/octet-stream" }, body: big }
        : { status: 200, body: JSON.stringify({ success: true, errors: [], messages: [], result: null }) },
    );
    servers.push(huge);
    const r = await run(["kv", "get", "k", "--env", "site"], { CLOUDFLARE_API_BASE_URL: huge.url });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`more than ${25 * 1024 * 1024} bytes`);
    expect(r.stdoutBytes!.byteLength).toBe(0);
  });
});

describe("a key cannot leave its namespace", () => {
  it("../ in a key is part of the key: stored in the site namespace, no other route or namespace touched", async () => {
    const key = `../../${NAMESPACE_IDS.auth}/values/x/../../../../accounts`;
    const r = await runCli(["kv", "put", key, "v", "--env", "site", "--remote", "--config", p.config], { env: p.env });
    expect(r.code, r.stderr).toBe(0);
    expect(p.api.namespace(NAMESPACE_IDS.site).has(key)).toBe(true);
    expect(p.api.namespace(NAMESPACE_IDS.auth).size).toBe(0);
    expect(p.api.log.map((l) => l.route)).toEqual(["PUT values"]);
  });
});
