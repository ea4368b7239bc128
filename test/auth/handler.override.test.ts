// Method overrides in the query, every spelling a server reads as `_method` (or ASP.NET's
// X-HTTP-Method-Override). What PHP 8.2 itself makes of them is checked against a real PHP in
// test/security/method-override-php.test.ts; these are the fast cases.
import { describe, expect, it } from "vitest";
import { overrides } from "../../workers/auth/handler.ts";
import { bearer, makeGate } from "./helpers.ts";

// Names PHP (parse_str, $_GET), Symfony/Laravel, Spring, Express or ASP.NET read as an override.
const OVERRIDE_NAMES = [
  "_method",
  ".method", // PHP: `.` -> `_`
  "%2Emethod",
  "%20_method", // PHP drops leading spaces
  "+_method",
  "%20%20.method",
  "_method[]", // PHP: an array under _method
  "_method[0]",
  "_method[x]",
  "_method[a]junk",
  "_method%5B%5D",
  "_method[;]",
  "_method%00x", // PHP cuts at NUL
  "_Method", // ASP.NET and case-insensitive readers
  "_METHOD",
  "%5Fmethod",
  "%5f%6D%65%74%68%6F%64",
  "_meth%6Fd",
  "%09_method", // white space around a name is trimmed by some readers
  "_method%20",
  "[method", // an unmatched `[` read as `_`
  "X-HTTP-Method-Override", // ASP.NET MVC 5 reads it from the query
  "X-HTTP-Method-%u004Fverride", // and decodes IIS's %uXXXX
  "%u005Fmethod",
  "x-http-method-override",
  "X-HTTP-Method",
  "X-Method-Override",
];
// Names no server reads as an override: left alone.
const PLAIN_NAMES = [
  "method",
  "_methods",
  "my_method",
  "__method",
  "._method",
  "_method_",
  "method_",
  "x_method",
  "payment_method",
  "_[method",
  "%255Fmethod",
  "x-method",
  "_method-override",
];

describe("overrides(): the methods a query's override parameters name", () => {
  it.each(OVERRIDE_NAMES)("%s=delete is DELETE", (name) => {
    expect(overrides(`?a=1&${name}=delete&b=2`)).toContain("DELETE");
  });

  it.each(PLAIN_NAMES)("%s=DELETE is no override", (name) => {
    expect(overrides(`?${name}=DELETE`)).toEqual([]);
  });

  it("every duplicate counts (PHP takes the last, Express the first); values are decoded and trimmed", () => {
    expect(overrides("?_method=PUT&_method=DELETE")).toEqual(["PUT", "DELETE"]);
    expect(overrides("?_method=%44ELETE&.method=+patch+&_method=put%0D%0A&_method=%u0044elete")).toEqual(["DELETE", "PATCH", "PUT", "DELETE"]);
  });

  it("a value that is not a plain method needs any method (`*`): empty, junk, arrays of junk, non-ASCII", () => {
    for (const q of ["?_method", "?_method=", "?_method=DEL%00ETE", "?_method[]=DELETE,PUT", "?_method=DEL%20ETE", "?_method=%C4%B1", "?_method=PUT;x"]) {
      expect(overrides(q), q).toContain("*");
    }
  });

  it("`;` also separates pairs (some parsers split on it)", () => {
    expect(overrides("?a=1;_method=DELETE")).toEqual(["DELETE"]);
  });
});

describe("the gate refuses an override outside the token's scope", () => {
  it("a POST-only token: 403 insufficient_scope for each spelling, nothing forwarded", async () => {
    const g = makeGate();
    const { token } = await g.issue({ scopes: ["POST:/api/*"] });
    for (const name of OVERRIDE_NAMES) {
      const res = await g.fetch(`/api/items/42?${name}=DELETE`, { method: "POST", ...bearer(token) });
      expect(res.status, name).toBe(403);
      expect(res.headers.get("WWW-Authenticate"), name).toContain('scope="DELETE:/api/items/42"');
    }
    const junk = await g.fetch("/api/items/42?_method[]=x%00", { method: "POST", ...bearer(token) });
    expect(junk.headers.get("WWW-Authenticate")).toContain('scope="*:/api/items/42"');
    expect(g.received).toEqual([]);
  });

  it("passes when the scopes hold the named method, or any method; plain names are untouched", async () => {
    const g = makeGate();
    const both = (await g.issue({ scopes: ["POST:/api/*", "DELETE:/api/*"] })).token;
    const any = (await g.issue({ scopes: ["*:/api/*"] })).token;
    const post = (await g.issue({ scopes: ["POST:/api/*"] })).token;
    expect((await g.fetch("/api/x?.method=delete", { method: "POST", ...bearer(both) })).status).toBe(200);
    expect((await g.fetch("/api/x?_method[]=%00", { method: "POST", ...bearer(any) })).status).toBe(200);
    expect((await g.fetch("/api/x?_method[]=%00", { method: "POST", ...bearer(both) })).status).toBe(403);
    for (const name of PLAIN_NAMES) expect((await g.fetch(`/api/x?${name}=DELETE`, { method: "POST", ...bearer(post) })).status, name).toBe(200);
    expect(g.received.map((r) => new URL(r.url).search)).toEqual(["?.method=delete", "?_method[]=%00", ...PLAIN_NAMES.map((n) => `?${n}=DELETE`)]);
  });
});
