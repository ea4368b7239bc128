import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HttpError, KV_RETRY_AFTER_SECONDS, toErrorResponse } from "../../shared/http/errors.ts";
import { MAX_PATH_BYTES, normalizePath } from "../../shared/http/path.ts";
import { originTarget, parseOriginBase, withoutParams } from "../../shared/http/target.ts";
import { KvLimitError, KvOps, KvRateLimitError, KvUnavailableError, KvValidationError, parseKvServerTiming } from "../../shared/kv/index.ts";

describe("toErrorResponse: typed errors become responses in one place", () => {
  it("HttpError keeps its status, code and headers", async () => {
    const res = toErrorResponse(new HttpError(405, "method_not_allowed", "use GET", { Allow: "GET, HEAD" }));
    expect(res.status).toBe(405);
    expect(res.headers.get("Allow")).toBe("GET, HEAD");
    expect(await res.json()).toEqual({ error: "method_not_allowed", message: "use GET" });
  });

  it.each([
    [new KvUnavailableError("get", "k", new Error("boom")), 503, "kv_unavailable"],
    [new KvRateLimitError("k", 5, new Error("429")), 503, "kv_unavailable"],
    [new KvValidationError("k", "read", "value", [{ message: "bad", path: "a" }]), 503, "invalid_stored_data"],
    [new KvValidationError("k", "write", "value", [{ message: "bad", path: "a" }]), 400, "invalid_input"],
    [new KvLimitError("key-bytes", 600, "too long", 512), 400, "kv_limit"],
  ])("%s -> %i", async (err, status, code) => {
    const res = toErrorResponse(err);
    expect(res.status).toBe(status);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    if (status === 503) expect(res.headers.get("Retry-After")).toBe(String(KV_RETRY_AFTER_SECONDS));
    expect(((await res.json()) as { error: string }).error).toBe(code);
  });

  it("an unknown error is a 500 that reveals nothing", async () => {
    const res = toErrorResponse(new TypeError("secret internals at /src/x.ts:12"));
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(body).not.toContain("secret");
    expect(body).not.toContain(".ts");
  });
});

describe("normalizePath", () => {
  it.each([
    ["/", "/", []],
    ["/a/b", "/a/b", ["a", "b"]],
    ["/a//b/", "/a/b/", ["a", "b"]],
    ["/docs/a%20b.html", "/docs/a b.html", ["docs", "a b.html"]],
    ["/%C3%BCber", "/über", ["über"]],
  ])("%s -> %s", (input, path, segments) => {
    const r = normalizePath(input);
    expect(r.ok && r.path).toBe(path);
    expect(r.ok && r.segments).toEqual(segments);
  });

  it.each([
    ["/a%2Fb", 400],
    ["/a%5Cb", 400],
    ["/a%00b", 400],
    ["/%2e%2e/etc", 400],
    ["/%2E", 400],
    ["/bad%E0%A4%A", 400],
    ["/x%", 400],
    [`/${"a".repeat(MAX_PATH_BYTES)}`, 414],
  ])("refuses %s with %i", (input, status) => {
    const r = normalizePath(input);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.status).toBe(status);
  });

  it("real request URLs: the URL parser resolves dot segments before we see them", () => {
    for (const raw of ["http://x/public/../private", "http://x/public/%2e%2e/private", "http://x/public/%2E%2E/private"]) {
      const r = normalizePath(new URL(raw).pathname);
      expect(r.ok && r.path).toBe("/private");
    }
  });

  it("property: an accepted path never holds a dot segment, separator or control character in a segment", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.constantFrom("..", ".", "%2e", "%2F", "%5c", "%00", "%", "%zz", "/")), { maxLength: 8 }), (parts) => {
        const r = normalizePath(`/${parts.join("/")}`);
        if (!r.ok) return true;
        return r.segments.every((s) => s !== "." && s !== ".." && !/[/\\\u0000-\u001f\u007f]/.test(s)) && !r.path.includes("//");
      }),
      { numRuns: 2_000 },
    );
  });
});

describe("path policy: what is decided is what is forwarded", () => {
  const hostile = fc.constantFrom(
    "..",
    ".",
    "%2e%2e",
    "%2E",
    ".%2e",
    "..;",
    "..;x",
    ";",
    ";x",
    "a;b",
    "%3B",
    "..%3B",
    "%2F",
    "%5C",
    "%252e",
    "%2541",
    "%C0%AE",
    "%EF%BC%8E%EF%BC%8E",
    "%EF%BC%8F",
    "%EF%BC%85",
    "a%20b",
    "%C3%A9",
    "~",
    "x:y@z",
    "%",
    "%zz",
    "",
  );
  const pathArb = fc.array(fc.oneof(hostile, fc.string({ maxLength: 4 })), { minLength: 1, maxLength: 6 }).map((p) => `/${p.join("/")}`);

  it("property: `encoded` is the URL parser's fixed point and decodes to `path`; normalising it again changes nothing", () => {
    fc.assert(
      fc.property(pathArb, fc.boolean(), (raw, pathParams) => {
        const pathname = new URL(`http://x${raw}`).pathname;
        const r = normalizePath(pathname, { pathParams });
        if (!r.ok) return;
        expect(new URL(r.encoded, "http://x").pathname).toBe(r.encoded);
        expect(r.encoded.split("/").map(decodeURIComponent).join("/")).toBe(r.path);
        const again = normalizePath(r.encoded, { pathParams });
        expect(again.ok && again.path).toBe(r.path);
        expect(again.ok && again.encoded).toBe(r.encoded);
        expect(r.encoded).not.toMatch(/\/\/|\\/);
      }),
      { numRuns: 3_000 },
    );
  });

  it("property: no accepted segment is, or NFKC-normalises to, a separator, a dot segment or a second encoding", () => {
    fc.assert(
      fc.property(pathArb, fc.boolean(), (raw, pathParams) => {
        const r = normalizePath(new URL(`http://x${raw}`).pathname, { pathParams });
        if (!r.ok) return;
        for (const s of r.segments) {
          for (const v of [s, s.normalize("NFKC")]) {
            expect(v).not.toMatch(/[/\\]|%[0-9A-Fa-f]{2}/);
            expect([".", ".."]).not.toContain(v);
            const beforeParams = v.split(";")[0];
            if (v.includes(";")) expect(["", ".", ".."]).not.toContain(beforeParams);
          }
          if (!pathParams) expect(s).not.toContain(";");
        }
      }),
      { numRuns: 3_000 },
    );
  });

  it.each([
    ["/public/..;/admin", true],
    ["/public/%2e%2e;/admin", true],
    ["/public/.;x/admin", true],
    ["/public/;/admin", true],
    ["/a;b", false],
    ["/a%3Bb", false],
  ])("%s is refused (pathParams: %s)", (path, pathParams) => {
    expect(normalizePath(path, { pathParams }).ok).toBe(false);
  });

  it("matrix parameters pass with the opt-in, in their canonical form", () => {
    const r = normalizePath("/shop;jsessionid=ABC/item", { pathParams: true });
    expect(r.ok && r.encoded).toBe("/shop;jsessionid=ABC/item");
  });
});

describe("originTarget: the configured origin, whatever the path", () => {
  const base = parseOriginBase("https://origin.example:8443/app/");

  it("keeps scheme, host, port and prefix", () => {
    expect(base).toEqual({ origin: "https://origin.example:8443", prefix: "/app" });
    expect(originTarget(base, "/a/b", "?q=%2F%2Fevil")).toBe("https://origin.example:8443/app/a/b?q=%2F%2Fevil");
  });

  it.each(["//evil.example/x", "/\\evil.example", "\\evil.example", "evil.example", "@evil.example", ":1/x"])(
    "refuses a path that could change the origin: %s",
    (p) => {
      const noPrefix = parseOriginBase("https://origin.example");
      expect(() => originTarget(noPrefix, p, "")).toThrow(HttpError);
    },
  );

  it("property: for any normalised path, the target's origin is the configured one", () => {
    const noPrefix = parseOriginBase("http://127.0.0.1:9");
    fc.assert(
      fc.property(fc.string(), fc.string(), (p, q) => {
        const r = normalizePath(new URL(`http://x/${p}`).pathname);
        if (!r.ok) return;
        expect(new URL(originTarget(noPrefix, r.encoded, q ? `?${encodeURIComponent(q)}` : "")).origin).toBe("http://127.0.0.1:9");
      }),
      { numRuns: 2_000 },
    );
  });

  it("refuses credentials, queries and other schemes in the configured URL", () => {
    for (const bad of ["ftp://x", "https://u:p@x", "https://x/?a=1", "https://x/#f", "not a url"]) expect(() => parseOriginBase(bad)).toThrow(RangeError);
  });
});

describe("withoutParams: a credential off the query, every other pair as sent", () => {
  const isToken = (n: string) => n === "access_token";
  // Names that decode to access_token, and look-alikes that do not.
  const tokenName = fc.constantFrom("access_token", "access%5Ftoken", "%61ccess_token", "access%5ftoken");
  const otherName = fc.constantFrom("q", "access", "access_token_", "access-token", "x%20y", "a+b", "%E2%9C%93", "", "?access_token");
  const value = fc.constantFrom("", "=", "=1", "=%7E%20+", "=a%2Bb", "=tok=en", "=%");
  it("drops exactly the pairs URLSearchParams reads under the name, keeping the others byte for byte and in order", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), tokenName, otherName, value), { maxLength: 8 }), (parts) => {
        const pairs = parts.map(([tok, t, o, v]) => (tok ? t : o) + v);
        const search = pairs.length ? `?${pairs.join("&")}` : "";
        // The query as a URL holds it, which is what the Workers pass in.
        const held = new URL(`http://x/${search}`).search;
        const out = withoutParams(held, isToken);
        const expected = held
          .slice(1)
          .split("&")
          .filter((p) => ![...new URLSearchParams(`&${p}`).keys()].includes("access_token"))
          .join("&");
        expect(out).toBe(expected ? `?${expected}` : "");
        expect(new URL(`http://x/${out}`).searchParams.has("access_token")).toBe(false);
        // Nothing is re-encoded: every kept pair is a substring of what was held.
        for (const p of out.slice(1).split("&")) expect(held.includes(p)).toBe(true);
      }),
    );
    expect(withoutParams("?q=%7E%20+&access_token=t&flag", isToken)).toBe("?q=%7E%20+&flag");
    expect(withoutParams("?access_token=t", isToken)).toBe("");
    expect(withoutParams("", isToken)).toBe("");
  });
});

describe("Server-Timing round trip", () => {
  it("parses what KvOps writes", () => {
    const ops = new KvOps();
    ops.reads = 2;
    ops.cacheHits = 5;
    const header = `app;dur=3, ${ops.toServerTiming()}`;
    expect(parseKvServerTiming(header)).toMatchObject({ reads: 2, writes: 0, hits: 5, stale: 0 });
    expect(parseKvServerTiming("app;dur=1")).toBeNull();
  });
});
