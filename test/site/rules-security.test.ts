/**
 * `_redirects` and `_headers` substitution against hostile request paths, property-based,
 * in workerd (whose URL parser is the one that runs in production).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseHeaders, parseRedirects } from "../../cli/site/rules.ts";
import type { SiteIndex } from "../../workers/site/model.ts";
import { applyHeaderRules, encodeHeaderParam, fillTarget, findRedirect, percentEncode } from "../../workers/site/rules.ts";

const SITE = "https://site.example";

/** False for strings with lone surrogates (encoded as U+FFFD, so they cannot round-trip). */
function wellFormed(s: string): boolean {
  try {
    encodeURIComponent(s);
    return true;
  } catch {
    return false;
  }
}
const EXTERNAL = "https://example.com";

/** Pieces an attacker strings together to move a URL to another host. */
const hostilePiece = fc.constantFrom(
  "/",
  "//",
  "\\",
  "/\\",
  "\\/",
  "%2F",
  "%2f",
  "%5C",
  "%5c",
  "%252F",
  "%255c",
  "%2F%2F",
  "%5C%5C",
  "\t",
  "\n",
  "\r",
  " ",
  "%09",
  "%0A",
  "%0d",
  "%20",
  "\u0000",
  "\u000b",
  "\u007f",
  "@",
  ":",
  "http:",
  "https:",
  "//evil.com",
  "evil.com",
  "evil.com:443",
  "user:pw@evil.com",
  ".",
  "..",
  "?",
  "#",
  "%",
  "%%",
  ";",
  ",",
  "é",
  "／",
  "＼",
  "\u3002",
  "\u2215",
  "\u2044",
  "\ufe68",
  "\ud800",
);
const hostile = fc.oneof(
  fc.array(hostilePiece, { maxLength: 8 }).map((p) => p.join("")),
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.tuple(fc.array(hostilePiece, { maxLength: 4 }), fc.string({ maxLength: 6 })).map(([p, s]) => p.join("") + s),
);

const RELATIVE_TEMPLATES = ["/:splat", "/:splat/x", "/a/:splat", "/:splat?x=1", "/x?next=:splat", "/:splat#:splat", "/:a:splat", "/:a/:splat"];
const ABSOLUTE_TEMPLATES = [`${EXTERNAL}/:splat`, `${EXTERNAL}/p?u=:splat`, `${EXTERNAL}/:a/:splat#:a`];

describe("redirect targets never leave their host (property-based)", () => {
  it("fillTarget: a relative target stays on the site, starting with exactly one /", () => {
    fc.assert(
      fc.property(fc.constantFrom(...RELATIVE_TEMPLATES), hostile, hostile, (template, splat, a) => {
        const to = fillTarget(template, { splat, a });
        expect(to).toBeDefined();
        expect(to).toMatch(/^\/(?:[^/\\]|$)/);
        expect(new URL(to!, `${SITE}/`).origin).toBe(SITE);
        // Nothing a browser strips or rereads is left raw in the filled part.
        expect(to).not.toMatch(/[\\\t\n\r\s]/);
      }),
      { numRuns: 2000 },
    );
  });

  it("fillTarget: an absolute target keeps its configured origin", () => {
    fc.assert(
      fc.property(fc.constantFrom(...ABSOLUTE_TEMPLATES), hostile, hostile, (template, splat, a) => {
        const to = fillTarget(template, { splat, a });
        expect(to).toBeDefined();
        expect(new URL(to!).origin).toBe(EXTERNAL);
        expect(new URL(to!, `${SITE}/`).origin).toBe(EXTERNAL);
      }),
      { numRuns: 1000 },
    );
  });

  it("findRedirect over compiled rules: any request path gives a Location on the right host", () => {
    const index = {
      redirects: parseRedirects(
        [
          "/blog/* /:splat 301",
          "/go/* /:splat/index.html",
          "/u/:id/* /:id/:splat 308",
          "/q/* /search?q=:splat",
          "/ext/* https://example.com/:splat",
          "/extq/* https://example.com/r?to=:splat",
        ].join("\n"),
      ),
    } as unknown as SiteIndex;
    const prefix = fc.constantFrom("/blog/", "/go/", "/u/", "/q/", "/ext/", "/extq/");
    fc.assert(
      fc.property(prefix, hostile, hostile, (p, x, y) => {
        const path = p === "/u/" ? `${p}${x.replace(/\//g, "") || "id"}/${y}` : `${p}${x}${y}`;
        const r = findRedirect(index, path);
        expect(r, path).toBeDefined();
        const origin = new URL(r!.to, `${SITE}/`).origin;
        expect(origin, `${JSON.stringify(path)} -> ${r!.to}`).toBe(p.startsWith("/ext") ? EXTERNAL : SITE);
      }),
      { numRuns: 2000 },
    );
  });

  it("collapses the known payloads to a path on the site", () => {
    const cases: [string, Record<string, string>, string][] = [
      ["/:splat", { splat: "/evil.com" }, "/evil.com"],
      ["/:splat", { splat: "\\evil.com" }, "/evil.com"],
      ["/:splat", { splat: "/\\/\t\n%2F%5c%252Fevil.com" }, "/evil.com"],
      ["/:splat/x", { splat: "" }, "/x"],
      ["/:splat", { splat: "" }, "/"],
      ["/:splat", { splat: "a b/c" }, "/a%20b/c"],
      ["https://example.com/:splat", { splat: "@evil.com" }, "https://example.com/%40evil.com"],
    ];
    for (const [t, params, want] of cases) expect(fillTarget(t, params), `${t} ${JSON.stringify(params)}`).toBe(want);
  });

  it("refuses (undefined) a stored absolute target whose host would be filled in", () => {
    // The CLI refuses these at deploy time; the Worker does not trust the stored index either.
    expect(fillTarget("https://:splat/", { splat: "evil.com" })).toBeUndefined();
    expect(fillTarget("https://example.com:splat/", { splat: "@evil.com" })).toBeUndefined();
  });
});

describe("_redirects refused at deploy time", () => {
  it("protocol-relative static targets and placeholders in a URL's host, with _redirects:LINE:", () => {
    const bad: [string, RegExp][] = [
      ["/x //evil.com", /_redirects:1: target "\/\/evil.com" is protocol-relative/],
      ["/x /\\evil.com", /_redirects:1: target .* is protocol-relative/],
      ["/x \\\\evil.com", /_redirects:1: target .* must start with/],
      ["/a /b\n/x ///evil.com", /_redirects:2: .*protocol-relative/],
      ["/r/:host https://:host/", /_redirects:1: target puts :host in its host/],
      ["/r/:host https://:host.example.com/x", /_redirects:1: target puts :host in its host/],
      ["/r/* https://example.com:splat", /_redirects:1: target puts :splat in its host/],
      ["/r/:u https://:u@example.com/", /_redirects:1: target puts :u in its host/],
    ];
    for (const [text, re] of bad) expect(() => parseRedirects(text), text).toThrow(re);
    // Placeholders in an absolute target's path and query are fine.
    expect(parseRedirects("/r/:id/* https://example.com/:id/x?s=:splat")[0]!.to).toBe("https://example.com/:id/x?s=:splat");
  });
});

describe("_headers placeholders are percent-encoded (property-based)", () => {
  const SAFE = "[A-Za-z0-9\\-._~/%]*";
  const templates = ["</assets/:splat>; rel=preload", "</a/:splat>; rel=preload; as=script, </b.css>; rel=preload", "tag-:splat"];
  const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

  it("a value is the template with each placeholder replaced by unreserved characters, / and %XX", () => {
    fc.assert(
      fc.property(fc.constantFrom(...templates), fc.oneof(hostile, fc.string({ unit: "grapheme", maxLength: 20 })), (template, splat) => {
        const rules = parseHeaders(`/x/*\n  Link: ${template}`);
        const headers = new Headers();
        applyHeaderRules(rules, `/x/${splat}`, headers);
        const value = headers.get("Link")!;
        const shape = new RegExp(`^${escapeRe(template).replace(/:splat/g, `(${SAFE})`)}$`);
        const m = shape.exec(value);
        expect(m, value).not.toBeNull();
        expect(value.split(",")).toHaveLength(template.split(",").length);
        // Nothing is lost: the encoded value decodes back to the path's part (when it is well-formed UTF-16).
        if (wellFormed(splat)) expect(decodeURIComponent(m![1]!)).toBe(splat);
      }),
      { numRuns: 2000 },
    );
  });

  it("the header syntax characters never come through raw", () => {
    expect(encodeHeaderParam('a,b;c<d>e"f\r\ng h')).toBe("a%2Cb%3Bc%3Cd%3Ee%22f%0D%0Ag%20h");
  });
});

describe("percentEncode", () => {
  // The definition, byte by byte (the Worker's former implementation): unreserved bytes, and `/` with keepSlash, stay.
  const reference = (s: string, keepSlash: boolean): string => {
    let out = "";
    for (const b of new TextEncoder().encode(s)) {
      const c = String.fromCharCode(b);
      out += /[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === "/") ? c : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
    }
    return out;
  };

  it("property: equals the byte-wise RFC 3986 encoding, lone surrogates (U+FFFD) and !'()* included", () => {
    const units = fc.constantFrom("\uD800", "\uDFFF", "\uD83D\uDE00", "!", "'", "(", ")", "*", "/", "%", "%2F", "~", "a", "\u00e9");
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 20 }), fc.string({ unit: units, maxLength: 10 }), fc.boolean(), (a, b, keepSlash) => {
        expect(percentEncode(a + b, keepSlash)).toBe(reference(a + b, keepSlash));
      }),
      { numRuns: 3000 },
    );
  });
});
