// The one forwarding policy of the gate and the splitter (shared/http/forward.ts),
// and Vary (shared/http/vary.ts), in workerd.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalName, forwardHeaders, forwardRequest, parseForwardedHost } from "../../shared/http/forward.ts";
import { appendVary } from "../../shared/http/vary.ts";

const at = "https://app.example.com/x?q=1";
const fwd = (headers: Record<string, string>, policy: Parameters<typeof forwardHeaders>[2] = {}, url = at) => ({
  ...forwardHeaders(new Request(url, { headers }), new URL(url), policy),
});

describe("forwardHeaders: X-Forwarded-*", () => {
  it("X-Forwarded-For is exactly CF-Connecting-IP, never a chain the client wrote", () => {
    const chains = ["198.51.100.1", "198.51.100.1, 10.0.0.1", "unknown", "127.0.0.1, 203.0.113.9", ""];
    for (const xff of chains) {
      for (const name of ["X-Forwarded-For", "x-forwarded-for", "X_Forwarded_For"]) {
        expect(fwd({ [name]: xff, "cf-connecting-ip": "203.0.113.9" })["x-forwarded-for"]).toBe("203.0.113.9");
        // Without CF-Connecting-IP (local dev, a direct caller): none at all, not the client's.
        const h = fwd({ [name]: xff });
        expect(h).not.toHaveProperty("x-forwarded-for");
        expect(h).not.toHaveProperty("x_forwarded_for");
      }
    }
  });

  it("only the exact CF-Connecting-IP names the client: its `_` spelling or an Upgrade look-alike is the client's own header", () => {
    for (const order of [0, 1]) {
      const pairs: [string, string][] = [
        ["cf-connecting-ip", "203.0.113.9"],
        ["cf_connecting_ip", "6.6.6.6"],
      ];
      const h = fwd(Object.fromEntries(order ? pairs.reverse() : pairs));
      expect(h["x-forwarded-for"]).toBe("203.0.113.9");
      expect(fwd({ cf_connecting_ip: "6.6.6.6" })).not.toHaveProperty("x-forwarded-for");
    }
    // `upgrade_` spellings never turn a request into a WebSocket upgrade.
    const u = fwd({ "x-upgrade": "websocket", connection: "upgrade" });
    expect(u).not.toHaveProperty("upgrade");
    expect(u).not.toHaveProperty("connection");
  });

  it("a null-prototype record of lowercase names: `__proto__` and `constructor` are headers like any other", () => {
    const h = forwardHeaders(
      new Request(at, {
        headers: [
          ["X-App", "1"],
          ["x-app", "2"],
          ["__proto__", "p"],
          ["constructor", "c"],
        ],
      }),
      new URL(at),
      {},
    );
    expect(Object.getPrototypeOf(h)).toBe(null);
    expect(h["x-app"]).toBe("1, 2");
    expect(Object.keys(h).every((n) => n === n.toLowerCase())).toBe(true);
    const sent = new Request(at, { headers: h }).headers;
    expect(sent.get("__proto__")).toBe("p");
    expect(sent.get("constructor")).toBe("c");
  });

  it("Proto and Host come from the URL received, or Host from FORWARDED_HOST; the client's forwarding claims are gone", () => {
    const hostile = {
      "x-forwarded-host": "evil.test",
      "X-Forwarded-Proto": "https",
      x_forwarded_host: "evil.test",
      forwarded: "for=1.2.3.4;host=evil.test;proto=https",
      "x-forwarded-port": "443",
      "x-forwarded-server": "evil.test",
      "x-forwarded-ssl": "on",
      "x-forwarded-scheme": "https",
      "x-url-scheme": "https",
      "front-end-https": "on",
    };
    const h = fwd(hostile, {}, "http://tenant.example.com/x");
    expect(h["x-forwarded-host"]).toBe("tenant.example.com");
    expect(h["x-forwarded-proto"]).toBe("http");
    for (const name of [
      "x_forwarded_host",
      "forwarded",
      "x-forwarded-port",
      "x-forwarded-server",
      "x-forwarded-ssl",
      "x-forwarded-scheme",
      "x-url-scheme",
      "front-end-https",
    ]) {
      expect(h).not.toHaveProperty(name);
    }
    // A wildcard route lets a client pick the subdomain; a pinned host does not care.
    expect(fwd(hostile, { forwardedHost: "www.example.com" }, "https://attacker.example.com/x")["x-forwarded-host"]).toBe("www.example.com");
  });

  it("never forwards Host; keeps end-to-end headers as they are", () => {
    const h = fwd({ host: "evil.test", "x-app": "1", cookie: "a=1; b=2", authorization: "Bearer t", "content-type": "text/plain" });
    expect(h).not.toHaveProperty("host");
    expect(h).toMatchObject({ "x-app": "1", cookie: "a=1; b=2", authorization: "Bearer t", "content-type": "text/plain" });
  });
});

describe("forwardHeaders: hop-by-hop and Connection", () => {
  it("drops RFC 9110 hop-by-hop headers, Proxy (httpoxy), and their _ spellings", () => {
    const hop = {
      "keep-alive": "timeout=5",
      "proxy-authorization": "Basic dXNlcjpwYXNz",
      proxy_authorization: "Basic dXNlcjpwYXNz",
      "proxy-connection": "keep-alive",
      te: "trailers",
      trailer: "x-t",
      "proxy-authenticate": "Basic",
      "http2-settings": "AAMAAABkAAQAoAAAAAIAAAAA",
      proxy: "http://evil.test:3128",
      "x-app": "kept",
    };
    const h = fwd(hop);
    expect(Object.keys(h).sort()).toEqual(["x-app", "x-forwarded-host", "x-forwarded-proto"]);
  });

  it("drops every name the client lists in Connection (any case, _ for -), before the proxy adds its own", () => {
    const names = fc.sample(fc.constantFrom("x-secret-hop", "X-Secret-Hop", "x_secret_hop"), 5);
    for (const n of names) expect(fwd({ connection: `close, ${n}`, "x-secret-hop": "1", "x-kept": "1" })).not.toHaveProperty("x-secret-hop");
    // Naming what the proxy sets removes the client's copy, never the proxy's value.
    const h = fwd(
      {
        connection: "x-forwarded-for, X-Forwarded-Host, x-forwarded-proto, cf-connecting-ip, authorization",
        "x-forwarded-for": "6.6.6.6",
        "cf-connecting-ip": "203.0.113.9",
        authorization: "Bearer t",
      },
      {},
    );
    expect(h).toMatchObject({ "x-forwarded-for": "203.0.113.9", "x-forwarded-host": "app.example.com", "x-forwarded-proto": "https" });
    expect(h).not.toHaveProperty("authorization");
    expect(h).not.toHaveProperty("connection");
  });

  it("keeps a WebSocket upgrade (Upgrade: websocket, Connection: Upgrade) and nothing else Connection named", () => {
    const h = fwd({ upgrade: "WebSocket", connection: "keep-alive, Upgrade, x-hop", "x-hop": "1", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" });
    expect(h).toMatchObject({ upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" });
    expect(h).not.toHaveProperty("x-hop");
    // Another protocol is not passed on.
    expect(fwd({ upgrade: "h2c", connection: "Upgrade, HTTP2-Settings" })).not.toHaveProperty("upgrade");
  });

  it("a proxy's own drop list sees canonical names", () => {
    const seen: string[] = [];
    const h = fwd(
      { "X-EdgeKV-User": "mallory", x_edgekv_user: "mallory", "x-app": "1" },
      {
        drop: (c) => {
          seen.push(c);
          return c.startsWith("x-edgekv-");
        },
      },
    );
    expect(seen).toEqual(expect.arrayContaining(["x-edgekv-user", "x-app"]));
    expect(Object.keys(h).filter((k) => canonicalName(k).startsWith("x-edgekv-"))).toEqual([]);
  });
});

describe("forwardRequest", () => {
  it("streams a body except for GET/HEAD, returns redirects, and passes cache and signal", async () => {
    const post = forwardRequest(new Request(at, { method: "POST", body: "abc" }), "https://o.test/x", {}, { cache: "no-store" });
    expect([post.method, post.url, post.redirect, post.cache, await post.text()]).toEqual(["POST", "https://o.test/x", "manual", "no-store", "abc"]);
    const ctl = new AbortController();
    const get = forwardRequest(new Request(at), "https://o.test/x", { a: "1" }, { signal: ctl.signal });
    expect(get.body).toBeNull();
    expect(get.headers.get("a")).toBe("1");
    ctl.abort();
    expect(get.signal.aborted).toBe(true);
  });
});

describe("parseForwardedHost (FORWARDED_HOST)", () => {
  it("takes a bare host[:port], unset or empty as none", () => {
    for (const ok of ["www.example.com", "example.com:8443", "127.0.0.1:8787", "[::1]:8080", " www.example.com "])
      expect(parseForwardedHost(ok)).toBe(ok.trim());
    expect(parseForwardedHost(undefined)).toBeUndefined();
    expect(parseForwardedHost("  ")).toBeUndefined();
  });

  it("refuses anything a URL would not spell that way", () => {
    for (const bad of [
      "https://www.example.com",
      "www.example.com/path",
      "user@www.example.com",
      "a b",
      "WWW.Example.com",
      "example.com:80",
      "evil.test#",
      "x.test\r\nx-a: 1",
      "*.example.com",
    ]) {
      expect(() => parseForwardedHost(bad), bad).toThrow(RangeError);
    }
  });
});

describe("appendVary", () => {
  const vary = (before: string | null, names: string[]) => {
    const h = new Headers(before === null ? {} : { vary: before });
    appendVary(h, names);
    return h.get("vary");
  };
  it("appends without duplicates (case-insensitive), keeps the origin's, leaves * alone", () => {
    expect(vary(null, ["Cookie"])).toBe("Cookie");
    expect(vary("Accept-Encoding", ["Cookie", "x-user-id"])).toBe("Accept-Encoding, Cookie, x-user-id");
    expect(vary("accept-encoding, cookie", ["Cookie"])).toBe("accept-encoding, cookie");
    expect(vary("Origin", ["Cookie", "cookie", "COOKIE"])).toBe("Origin, Cookie");
    expect(vary("*", ["Cookie"])).toBe("*");
  });
});

describe("FORWARDED_HOST in both Workers", () => {
  it("a bad value fails closed (500 misconfigured), never an unpinned or attacker-chosen host", async () => {
    const { env } = await import("cloudflare:workers");
    const { gateConfig } = await import("../../workers/auth/config.ts");
    const { handle } = await import("../../workers/splitter/handler.ts");
    const { ConfigSource } = await import("../../workers/splitter/store.ts");
    const kv = (env as { TEST_KV: KVNamespace }).TEST_KV;
    for (const bad of ["https://www.example.com", "*.example.com", "a b"]) {
      expect(() => gateConfig({ TOKENS_KV: kv, ORIGIN_URL: "https://o.test", FORWARDED_HOST: bad })).toThrow(/FORWARDED_HOST/);
      let called = false;
      const res = await handle(new Request("https://app.test/x"), {
        env: { ROLLOUT_KV: kv, FORWARDED_HOST: bad },
        source: new ConfigSource(kv, { ttlMs: 0 }),
        fetch: async () => {
          called = true;
          return new Response("reached");
        },
        now: Date.now,
      });
      expect(res.status).toBe(500);
      expect(called).toBe(false);
    }
    expect(gateConfig({ TOKENS_KV: kv, ORIGIN_URL: "https://o.test", FORWARDED_HOST: "www.example.com" }).forwardedHost).toBe("www.example.com");
  });
});
