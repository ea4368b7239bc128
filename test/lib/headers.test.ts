// The request-parsing helpers every Worker shares (shared/http/cookies.ts,
// bearer.ts) and the per-isolate dependency cache (isolate.ts), in workerd.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bearerSecret, bearerToken } from "../../shared/http/bearer.ts";
import { cookieValue, cookieValues, withoutCookie } from "../../shared/http/cookies.ts";
import { perIsolate } from "../../shared/http/isolate.ts";

describe("cookies: one parser for the splitter and the gate", () => {
  it("reads the first value, names and values trimmed, values as they are", () => {
    expect(cookieValue("a=1; edgekv_id=xyz", "edgekv_id")).toBe("xyz");
    expect(cookieValue("  t =  v=w ;x=1", "t")).toBe("v=w");
    expect(cookieValue('t="quoted%20"', "t")).toBe('"quoted%20"');
    expect(cookieValue("t=a; t=b", "t")).toBe("a");
    expect(cookieValue("t=", "t")).toBe("");
  });

  it("ignores parts without = or with an empty name, and absent headers", () => {
    expect(cookieValue("t; =t; x=1", "t")).toBeNull();
    expect(cookieValue(null, "t")).toBeNull();
    expect(cookieValue("", "t")).toBeNull();
    expect(cookieValue("tt=1; t2=2", "t")).toBeNull();
  });

  it("cookieValues returns every value: a name sent twice is two credentials", () => {
    expect(cookieValues("t=a; x=1; t=b", "t")).toEqual(["a", "b"]);
    expect(cookieValues("x=1", "t")).toEqual([]);
    expect(cookieValues(null, "t")).toEqual([]);
  });

  it("withoutCookie removes exactly the pairs cookieValues finds", () => {
    expect(withoutCookie("a=1; t=x; b=2", "t")).toBe("a=1; b=2");
    expect(withoutCookie("t=x; a=1; t=y", "t")).toBe("a=1");
    expect(withoutCookie("t=x; t=y", "t")).toBeNull();
    // Unchanged (the same string) when the name is absent, junk parts included.
    const header = "a=1; t; tt=2";
    expect(withoutCookie(header, "t")).toBe(header);
    for (const h of ["a=1; t=x", "t=1;t=2; b=3", " x = 1 ; t =2"]) {
      const rest = withoutCookie(h, "t");
      expect(cookieValues(rest, "t")).toEqual([]);
      expect(cookieValues(rest, "a").concat(cookieValues(rest, "b"), cookieValues(rest, "x"))).toEqual(
        cookieValues(h, "a").concat(cookieValues(h, "b"), cookieValues(h, "x")),
      );
    }
  });
});

describe('cookies: two Cookie lines joined by ", "', () => {
  it("a pair after the comma is a cookie like any other", () => {
    expect(cookieValues("a=1, t=x", "t")).toEqual(["x"]);
    expect(cookieValues("t=junk, t=x; b=2", "t")).toEqual(["junk", "x"]);
    expect(cookieValue("a=1,t=x", "t")).toBe("x");
  });

  it("withoutCookie removes it there too and keeps every other byte as sent", () => {
    expect(withoutCookie("a=1, t=x", "t")).toBe("a=1");
    expect(withoutCookie("t=x, a=1; b=2", "t")).toBe("a=1; b=2");
    expect(withoutCookie("a=1; t=x, b=2", "t")).toBe("a=1, b=2");
    expect(withoutCookie("t=x, t=y", "t")).toBeNull();
    // A value with a comma (outside RFC 6265, sent by some sites) keeps its bytes when it is not the one removed.
    expect(withoutCookie("prefs=a,b; t=x", "t")).toBe("prefs=a,b");
    const header = "prefs=a,b; c=d";
    expect(withoutCookie(header, "t")).toBe(header);
  });
});

describe("bearer: one parser for tokens and secrets", () => {
  const h = (authorization?: string) => new Headers(authorization === undefined ? {} : { authorization });

  it("reads a b64token after a case-insensitive Bearer scheme", () => {
    expect(bearerToken(h("Bearer ekv_abc.DEF-~+/=="))).toBe("ekv_abc.DEF-~+/==");
    expect(bearerToken(h("bEaReR abc"))).toBe("abc");
    expect(bearerToken(h(`Bearer ${"a".repeat(2000)}`))).toBe("a".repeat(2000));
  });

  it.each([undefined, "", "Basic dXNlcjpwYXNz", "Bearerabc", "Bearer\tabc", "Token abc"])("%j is no bearer credential (null)", (value) => {
    expect(bearerToken(h(value))).toBeNull();
    expect(bearerSecret(h(value))).toBe("");
  });

  it.each(["Bearer", "Bearer ", "Bearer  abc", "Bearer a b", "Bearer abc, Bearer def", "Bearer a=b", "Bearer a!b", "bearer ="])(
    '%j is malformed ("")',
    (value) => {
      expect(bearerToken(h(value))).toBe("");
      expect(bearerSecret(h(value))).toBe("");
    },
  );

  it("agrees with the gate's former parser on any header (scheme up to the first space, then one b64token)", () => {
    const former = (auth: string): string | null => {
      const space = auth.indexOf(" ");
      if ((space < 0 ? auth : auth.slice(0, space)).toLowerCase() !== "bearer") return null;
      const value = space < 0 ? "" : auth.slice(space + 1);
      return /^[A-Za-z0-9\-._~+/]+=*$/.test(value) ? value : "";
    };
    const piece = fc.constantFrom("Bearer", "bearer", "BEARER", "Basic", " ", "  ", "\t", "=", "==", "abc", "Z9", "-._~+/", ",", "!", ";", "x");
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (pieces) => {
        const headers = h(pieces.join(""));
        expect(bearerToken(headers)).toBe(former(headers.get("authorization")!));
      }),
      { numRuns: 2000 },
    );
  });

  it("bearerSecret is the token, or '' (a wrong secret) for anything else", () => {
    expect(bearerSecret(h("Bearer s3cret"))).toBe("s3cret");
    expect(bearerSecret(h("Basic s3cret"))).toBe("");
    expect(bearerSecret(h())).toBe("");
  });
});

describe("perIsolate: deps built once per env object", () => {
  it("builds once per env, and again for another env", () => {
    let built = 0;
    const depsFor = perIsolate((env: { name: string }) => ({ name: env.name, n: ++built }));
    const a = { name: "a" };
    const first = depsFor(a);
    expect(depsFor(a)).toBe(first);
    expect(depsFor({ name: "a" })).toEqual({ name: "a", n: 2 });
    expect(depsFor(a)).toBe(first);
  });

  it("a build that throws is tried again on the next call", () => {
    let fail = true;
    const depsFor = perIsolate((_env: object) => {
      if (fail) throw new Error("bad config");
      return { ok: true };
    });
    const env = {};
    expect(() => depsFor(env)).toThrow("bad config");
    fail = false;
    expect(depsFor(env)).toEqual({ ok: true });
  });
});
