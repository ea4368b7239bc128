// Attack class: making a proxy lie to the origin about the request
// (X-Forwarded-*), or making it drop or keep the wrong headers (hop-by-hop,
// names listed in Connection, Host). The gate and the splitter forward through
// one builder (shared/http/forward.ts); here each runs under `wrangler dev` in
// front of the same recording origin, and for every hostile request both must
// deliver the same X-Forwarded-* and hop-by-hop result. Raw HTTP: fetch would
// refuse or rewrite Connection, Host and friends. (Miniflare's front proxy, like
// Cloudflare's edge, consumes Connection and Keep-Alive before the Worker runs,
// so the names a client lists there are covered by test/lib/forward.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevServer } from "../node/helpers/wrangler-dev.ts";
import { issueToken, raw, startGate, startOrigin, startSplitter, stateDir, type Origin } from "./helpers.ts";

let state: Awaited<ReturnType<typeof stateDir>>;
let app: Origin;
let unused: Origin;
let gate: DevServer;
let splitter: DevServer;
let pinnedGate: DevServer;
let pinnedSplitter: DevServer;
let token: string;

beforeAll(async () => {
  state = await stateDir("forwarded");
  app = await startOrigin("app");
  unused = await startOrigin("unused");
  token = await issueToken(state.dir, ["--user", "alice"]);
  // One after the other: two workerd creating the same local state at once can hit SQLITE_BUSY.
  splitter = await startSplitter(state.dir, app.url, unused.url, 0);
  gate = await startGate(state.dir, app.url, { PUBLIC_PATHS: "/public/*" });
  pinnedSplitter = await startSplitter(state.dir, app.url, unused.url, 0, { FORWARDED_HOST: "www.example.com" });
  pinnedGate = await startGate(state.dir, app.url, { PUBLIC_PATHS: "/public/*", FORWARDED_HOST: "www.example.com" });
}, 240_000);

afterAll(async () => {
  for (const d of [pinnedGate, pinnedSplitter, gate, splitter]) await d?.stop();
  await Promise.all([app?.close(), unused?.close()]);
  await state?.remove();
});

/** Everything except the proxy-specific parts: what the forwarding policy decides. */
const FORWARDING = /^(x-forwarded-|forwarded$|x-url-scheme$|front-end-https$|x_forwarded_)/;
const HOP = ["connection", "keep-alive", "te", "trailer", "proxy-authorization", "proxy-connection", "proxy", "upgrade", "http2-settings", "transfer-encoding"];

type Seen = (typeof app.seen)[number];

/** Sends the same raw request (path, headers) through `server` and returns what the origin got. */
async function through(server: DevServer, path: string, headers: Record<string, string>): Promise<{ status: number; seen: Seen }> {
  app.seen.length = 0;
  const lines = [`GET ${path} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), "Connection: close", "", ""];
  // A header given as "Connection" in `headers` comes first; HTTP allows repeats, the proxy sees the combined list.
  const reply = await raw(server.port, lines.join("\r\n"));
  expect(app.seen.length, `${server.url}${path}: ${reply.head}`).toBe(1);
  return { status: reply.status, seen: app.seen[0]! };
}

/** The forwarding-relevant view of what the origin got. */
function policyView(s: Seen): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s.headers)) if (FORWARDING.test(k) || HOP.includes(k) || k === "host") out[k] = v;
  return out;
}

const hostile: [what: string, headers: Record<string, string>][] = [
  [
    "a client-written X-Forwarded-For chain",
    { Host: "127.0.0.1", "X-Forwarded-Host": "evil.test", "X-Forwarded-For": "1.2.3.4, 10.0.0.1", "X-Real-Ip": "1.2.3.4" },
  ],
  ["an _ spelling of X-Forwarded-For and Forwarded", { Host: "127.0.0.1", X_Forwarded_For: "1.2.3.4", Forwarded: "for=1.2.3.4;proto=https;host=evil.test" }],
  [
    "X-Forwarded-Host/Proto/Port/Ssl claims",
    {
      Host: "127.0.0.1",
      "X-Forwarded-Host": "evil.test",
      "X-Forwarded-Proto": "https",
      "X-Forwarded-Port": "443",
      "X-Forwarded-Ssl": "on",
      "Front-End-Https": "on",
    },
  ],
  ["a foreign Host", { Host: "evil.test" }],
  ["a wildcard-route subdomain as Host", { Host: "attacker.example.com" }],
  [
    "Connection naming what the proxy sets",
    { Host: "127.0.0.1", Connection: "x-forwarded-for, x-forwarded-host, x-forwarded-proto, keep-alive", "Keep-Alive": "timeout=5" },
  ],
  [
    "Connection naming the gate's identity headers",
    { Host: "127.0.0.1", Connection: "x-edgekv-user, x-edgekv-jwt-assertion, authorization", "X-Keep-Me": "1" },
  ],
  [
    "hop-by-hop headers and httpoxy",
    {
      Host: "127.0.0.1",
      TE: "trailers",
      Trailer: "x-t",
      "Proxy-Authorization": "Basic YTpi",
      "Proxy-Connection": "keep-alive",
      Proxy: "http://evil.test:3128",
    },
  ],
];

describe("the gate and the splitter forward with one policy", () => {
  it.each(hostile)("%s: the same X-Forwarded-* and hop-by-hop result at the origin", async (_what, headers) => {
    const viaGate = await through(gate, "/public/x?q=1", headers);
    const viaSplitter = await through(splitter, "/public/x?q=1", headers);
    expect(viaGate.status).toBe(200);
    expect(viaSplitter.status).toBe(200);
    expect(policyView(viaGate.seen)).toEqual(policyView(viaSplitter.seen));
    const got = viaGate.seen.headers;
    // Host is the origin's; X-Forwarded-Proto is the scheme received; no client-written forwarding claim survives.
    expect(got.host).toBe(new URL(app.url).host);
    expect(got["x-forwarded-proto"]).toBe("http");
    for (const h of HOP) expect(got, h).not.toHaveProperty(h);
    for (const [k, v] of Object.entries(got))
      if (FORWARDING.test(k) && k !== "x-forwarded-host" && k !== "x-forwarded-proto" && k !== "x-forwarded-for") expect.fail(`${k}: ${v} reached the origin`);
    // Exactly CF-Connecting-IP (Miniflare sets it to the socket's peer), never a chain the client wrote.
    expect(got["x-forwarded-for"]).toBe("127.0.0.1");
    // Unpinned, X-Forwarded-Host is the host the request reached (the Host a route accepted), never the client's claim.
    expect(got["x-forwarded-host"]).toBe(headers.Host);
  });

  it("FORWARDED_HOST pins X-Forwarded-Host, whatever Host the client picks (a wildcard route)", async () => {
    for (const host of ["attacker.example.com", "evil.test", "127.0.0.1"]) {
      for (const server of [pinnedGate, pinnedSplitter]) {
        const { seen } = await through(server, "/public/x", { Host: host, "X-Forwarded-Host": "evil.test" });
        expect(seen.headers["x-forwarded-host"], `${server.url} Host: ${host}`).toBe("www.example.com");
      }
    }
  });

  it("Connection cannot strip what the gate adds: identity, assertion-free or not, and X-Forwarded-For", async () => {
    const named = "close, authorization, x-edgekv-user, x-edgekv-scopes, x-edgekv-jwt-assertion, x-forwarded-for, cookie";
    const { status, seen } = await through(gate, "/api/me", {
      Host: "127.0.0.1",
      Connection: named,
      Authorization: `Bearer ${token}`,
      "X-Edgekv-User": "mallory",
    });
    expect(status).toBe(200);
    expect(seen.headers["x-edgekv-user"]).toBe("alice");
    expect(seen.headers["x-edgekv-scopes"]).toBe("*");
    expect(seen.headers).not.toHaveProperty("connection");
  });
});
