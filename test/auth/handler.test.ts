import { describe, expect, it } from "vitest";
import { parseKvServerTiming } from "../../shared/kv/index.ts";
import { generateToken } from "../../workers/auth/token.ts";
import { bearer, countingKv, makeGate } from "./helpers.ts";

const kvReads = (res: Response) => parseKvServerTiming(res.headers.get("Server-Timing"))?.reads;

async function expectRejected(res: Response, status: number, error: string | undefined) {
  expect(res.status).toBe(status);
  const www = res.headers.get("WWW-Authenticate")!;
  expect(www).toMatch(/^Bearer realm="edgekv"/);
  if (error) expect(www).toContain(`error="${error}"`);
  else expect(www).toBe('Bearer realm="edgekv"');
  const body = (await res.json()) as { error: string; message: string };
  expect(body.error).toBe(error ?? "unauthorized");
  expect(typeof body.message).toBe("string");
  expect(res.headers.get("Content-Type")).toContain("application/json");
}

describe("RFC 6750 decision table (origin receives nothing for any rejection)", () => {
  it("no credential: 401 without an error code", async () => {
    const g = makeGate();
    await expectRejected(await g.fetch("/private"), 401, undefined);
    // Another scheme is no bearer credential either.
    await expectRejected(await g.fetch("/private", { headers: { Authorization: "Basic dXNlcjpwYXNz" } }), 401, undefined);
    expect(g.received).toEqual([]);
  });

  it("ALLOW_QUERY_TOKEN=true accepts ?access_token= (RFC 6750 2.3) as the one credential, and the origin never sees it", async () => {
    const g = makeGate({ ALLOW_QUERY_TOKEN: "true" });
    const { token } = await g.issue({ user: "query-user" });
    const ok = await g.fetch(`/private?a=1&access_token=${token}&b=2`);
    expect(ok.status).toBe(200);
    expect(g.received).toHaveLength(1);
    expect(g.received[0]!.url).toBe("http://origin.test/private?a=1&b=2");
    expect(g.received[0]!.headers["x-edgekv-user"]).toBe("query-user");
    expect(JSON.stringify(g.received[0])).not.toContain(token);
    // The other pairs reach the origin exactly as sent (and as the scope check read them), however the token's name is spelled.
    for (const [sent, forwarded] of [
      [`?q=%7E%20+&access_token=${token}&flag&x=a%2Bb`, "?q=%7E%20+&flag&x=a%2Bb"],
      [`?access%5Ftoken=${token}&&b=%2F`, "?&b=%2F"],
      [`?%61ccess_token=${token}`, ""],
    ] as const) {
      expect((await g.fetch(`/private${sent}`)).status, sent).toBe(200);
      expect(g.received.at(-1)!.url).toBe(`http://origin.test/private${forwarded}`);
    }
    g.received.splice(1);
    // Still one credential at most, and still checked offline first.
    await expectRejected(await g.fetch(`/private?access_token=${token}`, { headers: { Authorization: `Bearer ${token}` } }), 400, "invalid_request");
    await expectRejected(await g.fetch(`/private?access_token=${token}&access_token=${token}`), 400, "invalid_request");
    await expectRejected(await g.fetch("/private?access_token=nope"), 401, "invalid_token");
    expect(g.received).toHaveLength(1);
  });

  it("malformed header, two credentials, token in query, oversize header: 400 invalid_request, no KV read", async () => {
    const { kv, calls } = countingKv();
    const g = makeGate({ AUTH_COOKIE: "ekv" }, { kv });
    const t = generateToken();
    const twoHeaders = new Headers();
    twoHeaders.append("Authorization", `Bearer ${t}`);
    twoHeaders.append("Authorization", `Bearer ${generateToken()}`);
    const cases: RequestInit[] = [
      { headers: { Authorization: "Bearer" } },
      { headers: { Authorization: `Bearer ${t} extra` } },
      { headers: { Authorization: `Bearer  ${t}` } },
      { headers: { Authorization: "Bearer ekv_ü\u00ff" } },
      { headers: { Authorization: `Bearer ${t}x${"A".repeat(9000)}` } },
      { headers: twoHeaders },
      { headers: { Authorization: `Bearer ${t}`, Cookie: `ekv=${t}` } },
      { headers: { Cookie: `ekv=${t}; other=1; ekv=${t}` } },
    ];
    for (const init of cases) await expectRejected(await g.fetch("/private", init), 400, "invalid_request");
    await expectRejected(await g.fetch(`/private?access_token=${t}`), 400, "invalid_request");
    expect(calls).toEqual([]);
    expect(g.received).toEqual([]);
  });

  it("CR/LF cannot be smuggled into the header: the runtime refuses to build such a request at all", () => {
    expect(() => new Headers({ Authorization: `Bearer ${generateToken()}\r\nx-edgekv-user: admin` })).toThrow();
  });

  it("malformed tokens (prefix, length, checksum) are 401 invalid_token without any KV read", async () => {
    const { kv, calls } = countingKv();
    const g = makeGate({}, { kv });
    const t = generateToken();
    const flipped = t.slice(0, -1) + (t.endsWith("A") ? "B" : "A");
    for (const bad of [flipped, `ghp_${t.slice(4)}`, t.slice(0, -1), "ekv_short", "abc.def-ghi"]) {
      const res = await g.fetch("/private", bearer(bad));
      expect(kvReads(res)).toBe(0);
      await expectRejected(res, 401, "invalid_token");
    }
    expect(calls).toEqual([]);
    expect(g.received).toEqual([]);
  });

  it("unknown and revoked tokens: 401 invalid_token after one KV read", async () => {
    const g = makeGate();
    const res = await g.fetch("/private", bearer(generateToken()));
    expect(kvReads(res)).toBe(1);
    await expectRejected(res, 401, "invalid_token");
    const { token, hash } = await g.issue();
    await g.issuer.revokeHash(hash);
    await expectRejected(await g.fetch("/private", bearer(token)), 401, "invalid_token");
    expect(g.received).toEqual([]);
  });

  it("out of scope: 403 insufficient_scope naming the needed scope; HEAD rides on GET", async () => {
    const g = makeGate();
    const { token } = await g.issue({ scopes: ["GET:/api/*"] });
    expect((await g.fetch("/api/items", bearer(token))).status).toBe(200);
    const head = await g.fetch("/api/items", { method: "HEAD", ...bearer(token) });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    const post = await g.fetch("/api/items", { method: "POST", body: "x", ...bearer(token) });
    expect(post.status).toBe(403);
    expect(post.headers.get("WWW-Authenticate")).toContain('error="insufficient_scope"');
    expect(post.headers.get("WWW-Authenticate")).toContain('scope="POST:/api/items"');
    expect(((await post.json()) as { error: string }).error).toBe("insufficient_scope");
    // A cached allow for /api/* does not cover another path.
    expect((await g.fetch("/admin/users", bearer(token))).status).toBe(403);
    expect(g.received.map((r) => `${r.method} ${new URL(r.url).pathname}`)).toEqual(["GET /api/items", "HEAD /api/items"]);
  });

  it("a token without scopes may do everything the gate protects; *:/admin/* matches any method", async () => {
    const g = makeGate();
    const all = (await g.issue()).token;
    const admin = (await g.issue({ scopes: ["*:/admin/*"] })).token;
    expect((await g.fetch("/anything/at/all", { method: "DELETE", ...bearer(all) })).status).toBe(200);
    expect((await g.fetch("/admin/x", { method: "PATCH", body: "{}", ...bearer(admin) })).status).toBe(200);
    expect((await g.fetch("/other", bearer(admin))).status).toBe(403);
  });
});

describe("forwarding an allowed request", () => {
  it("preserves method, path, query and streamed body; strips Authorization and client identity headers; adds the real identity", async () => {
    const g = makeGate({ IDENTITY_HEADERS: "X-Remote-User" });
    const { token, record } = await g.issue({ user: "alice", scopes: ["POST:/api/*", "GET:/api/*"] });
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode("part1-"));
        c.enqueue(new TextEncoder().encode("part2"));
        c.close();
      },
    });
    const res = await g.fetch("/api/upload?x=1&y=%20z", {
      method: "POST",
      body,
      // @ts-expect-error duplex is needed for a streamed request body
      duplex: "half",
      headers: {
        Authorization: `Bearer ${token}`,
        "Content-Type": "text/plain",
        "X-Edgekv-User": "root",
        "x-edgekv-scopes": "*",
        "x-edgekv-jwt-assertion": "forged",
        "X-Remote-User": "root",
      },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("from origin");
    expect(res.headers.get("x-from-origin")).toBe("1");
    expect(g.received).toHaveLength(1);
    const r = g.received[0]!;
    expect(r.method).toBe("POST");
    expect(r.url).toBe("http://origin.test/api/upload?x=1&y=%20z");
    expect(r.body).toBe("part1-part2");
    expect(r.headers.authorization).toBeUndefined();
    expect(r.headers["x-remote-user"]).toBeUndefined();
    expect(r.headers["x-edgekv-jwt-assertion"]).toBeUndefined(); // no key configured here: nothing, and never the client's
    expect(r.headers["content-type"]).toBe("text/plain");
    expect(r.headers["x-edgekv-user"]).toBe("alice");
    expect(r.headers["x-edgekv-scopes"]).toBe("POST:/api/* GET:/api/*");
    expect(r.headers["x-edgekv-token-expires"]).toBe(String(Math.floor(record.expiresAt / 1000)));
    expect(r.headers["x-edgekv-token-id"]).toBe(record.id);
  });

  // The signed identity assertion (JWT) is tested in assertion.test.ts.

  it("can keep Authorization when configured; a cookie credential is removed from Cookie, other cookies kept", async () => {
    const keep = makeGate({ FORWARD_AUTHORIZATION: "true" });
    const t1 = (await keep.issue()).token;
    await keep.fetch("/x", bearer(t1));
    expect(keep.received[0]!.headers.authorization).toBe(`Bearer ${t1}`);
    const cookie = makeGate({ AUTH_COOKIE: "ekv" });
    const t2 = (await cookie.issue({ user: "carol" })).token;
    expect((await cookie.fetch("/x", { headers: { Cookie: `theme=dark; ekv=${t2}; lang=fr` } })).status).toBe(200);
    expect(cookie.received[0]!.headers.cookie).toBe("theme=dark; lang=fr");
    expect(cookie.received[0]!.headers["x-edgekv-user"]).toBe("carol");
  });

  it('a cookie credential after the ", " that joins two Cookie lines is still a credential: counted, and never forwarded', async () => {
    const g = makeGate({ AUTH_COOKIE: "ekv" });
    const { token } = await g.issue({ user: "dave" });
    // With a bearer token too, that is two credentials, not a cookie smuggled past the gate to the origin.
    await expectRejected(await g.fetch("/x", { headers: { ...bearer(token).headers, Cookie: `theme=dark, ekv=${token}` } }), 400, "invalid_request");
    expect(g.received).toEqual([]);
    // Alone, it authenticates and leaves the Cookie header; the other pairs keep their bytes.
    expect((await g.fetch("/x", { headers: { Cookie: `theme=dark, ekv=${token}; lang=fr` } })).status).toBe(200);
    expect(g.received[0]!.headers.cookie).toBe("theme=dark; lang=fr");
    expect(JSON.stringify(g.received[0])).not.toContain(token);
  });

  it("an unreachable origin is a 502, not a crash", async () => {
    const g = makeGate();
    g.deps.origin = () => Promise.reject(new Error("connection refused"));
    const { token } = await g.issue();
    const res = await g.fetch("/x", bearer(token));
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: string }).error).toBe("bad_gateway");
  });
});

describe("paths: decisions use the real, normalised path", () => {
  it("public globs pass without a token, still stripped of spoofed identity", async () => {
    const g = makeGate();
    expect((await g.fetch("/health", { headers: { "x-edgekv-user": "root", Authorization: "Bearer whatever" } })).status).toBe(200);
    expect((await g.fetch("/public/css/site.css")).status).toBe(200);
    expect(g.received.map((r) => new URL(r.url).pathname)).toEqual(["/health", "/public/css/site.css"]);
    expect(g.received[0]!.headers["x-edgekv-user"]).toBeUndefined();
    expect(g.received[0]!.headers.authorization).toBeUndefined();
  });

  it("dot segments, encoded dots and slashes, and forwarded-path headers never reach a protected path", async () => {
    const g = makeGate();
    const tricks = [
      "/public/../private",
      "/public/%2e%2e/private",
      "/public/%2E%2E/private",
      "/public/.%2e/private",
      "/public%2F..%2Fprivate",
      "/public/..%2Fprivate",
      "/public/%2e%2e%2fprivate",
      "/public\\..\\private",
      "/public/%252e%252e/private",
    ];
    for (const path of tricks) {
      const res = await g.fetch(path, { headers: { "X-Forwarded-Uri": "/public/x", "X-Original-URI": "/public/x", "X-Forwarded-Prefix": "/public" } });
      const forwarded = g.received.at(-1);
      if (res.status === 200) {
        // Only allowed if what the origin receives really is under /public.
        expect(new URL(forwarded!.url).pathname.startsWith("/public/")).toBe(true);
        expect(decodeURIComponent(new URL(forwarded!.url).pathname)).not.toContain("..");
      } else expect([400, 401]).toContain(res.status);
    }
    expect(g.received.every((r) => new URL(r.url).pathname.startsWith("/public/"))).toBe(true);
    // A protected path with spoofed forwarding headers still needs a token.
    await expectRejected(await g.fetch("/private", { headers: { "X-Forwarded-Uri": "/health", "X-Original-URI": "/health" } }), 401, undefined);
  });

  it("empty segments collapse: the origin gets exactly the path that was checked", async () => {
    const g = makeGate();
    const { token } = await g.issue({ scopes: ["GET:/api/*"] });
    expect((await g.fetch("//api//x/", bearer(token))).status).toBe(200);
    expect(new URL(g.received[0]!.url).pathname).toBe("/api/x/");
    expect((await g.fetch("/x//api/y", bearer(token))).status).toBe(403);
  });
});

describe("HEAD, OPTIONS and CORS", () => {
  it("HEAD rejections carry the status and challenge, no body", async () => {
    const g = makeGate();
    const res = await g.fetch("/private", { method: "HEAD" });
    expect(res.status).toBe(401);
    expect(res.headers.get("WWW-Authenticate")).toBe('Bearer realm="edgekv"');
    expect(await res.text()).toBe("");
  });

  it("without a CORS policy, a preflight is an ordinary request (401, origin untouched)", async () => {
    const g = makeGate();
    const res = await g.fetch("/api/x", { method: "OPTIONS", headers: { Origin: "https://app.test", "Access-Control-Request-Method": "GET" } });
    expect(res.status).toBe(401);
    expect(g.received).toEqual([]);
  });

  it("with a policy, the gate answers preflights itself: allowed origins get 204, others 403", async () => {
    const g = makeGate({ CORS_ALLOW_ORIGINS: "https://app.test", CORS_MAX_AGE: "120" });
    const ok = await g.fetch("/api/x", {
      method: "OPTIONS",
      headers: { Origin: "https://app.test", "Access-Control-Request-Method": "DELETE", "Access-Control-Request-Headers": "Authorization, Content-Type" },
    });
    expect(ok.status).toBe(204);
    expect(ok.headers.get("Access-Control-Allow-Origin")).toBe("https://app.test");
    expect(ok.headers.get("Access-Control-Allow-Methods")).toContain("DELETE");
    expect(ok.headers.get("Access-Control-Max-Age")).toBe("120");
    const rejected: Record<string, string>[] = [
      { Origin: "https://evil.test", "Access-Control-Request-Method": "GET" },
      { Origin: "https://app.test", "Access-Control-Request-Method": "CONNECT" },
      { Origin: "https://app.test", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-edgekv-user" },
    ];
    for (const headers of rejected) {
      const res = await g.fetch("/api/x", { method: "OPTIONS", headers });
      expect(res.status).toBe(403);
      expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
    }
    // Rejections are readable by the allowed origin, not by others.
    const denied = await g.fetch("/api/x", { headers: { Origin: "https://app.test" } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get("Access-Control-Allow-Origin")).toBe("https://app.test");
    expect((await g.fetch("/api/x", { headers: { Origin: "https://evil.test" } })).headers.get("Access-Control-Allow-Origin")).toBeNull();
    expect(g.received).toEqual([]);
  });

  it("a non-preflight OPTIONS with a token needs an OPTIONS scope and is forwarded", async () => {
    const g = makeGate();
    const get = (await g.issue({ scopes: ["GET:/*"] })).token;
    const opt = (await g.issue({ scopes: ["OPTIONS:/*"] })).token;
    expect((await g.fetch("/x", { method: "OPTIONS", ...bearer(get) })).status).toBe(403);
    expect((await g.fetch("/x", { method: "OPTIONS", ...bearer(opt) })).status).toBe(200);
    expect(g.received.map((r) => r.method)).toEqual(["OPTIONS"]);
  });
});

describe("logging", () => {
  it("one JSON line per decision with user, token id, decision, reason, method and path; never the token", async () => {
    const g = makeGate();
    const { token, record } = await g.issue({ user: "logger" });
    await g.fetch("/a", bearer(token));
    await g.fetch("/b");
    // Change the last (checksum) character; it must differ from the original or the token stays valid.
    await g.fetch("/c", bearer(token.slice(0, -1) + (token.endsWith("0") ? "1" : "0")));
    expect(g.logs).toHaveLength(3);
    const lines = g.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ decision: "allow", user: "logger", token: record.id, method: "GET", path: "/a", status: 200 });
    expect(lines[1]).toMatchObject({ decision: "deny", reason: "no credential", path: "/b", status: 401 });
    expect(lines[2]).toMatchObject({ decision: "deny", reason: "malformed token", status: 401 });
    for (const l of g.logs) {
      expect(l).not.toContain(token);
      expect(l).not.toContain(token.slice(4, 20));
    }
  });
});
