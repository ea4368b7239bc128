/** Runtime side of `_redirects` and `_headers`: rules were parsed and compiled at deploy time. */
import { HttpError } from "../../shared/http/errors.ts";
import type { HeaderRule, Pattern, Redirect, SiteIndex } from "./model.ts";

const compiled = new WeakMap<Pattern, RegExp>();

/**
 * Matches a compiled pattern; the captures by name, or null.
 * @example matchPattern({ re: "^/blog/([^/]+)$", names: ["slug"] }, "/blog/x") // { slug: "x" }
 */
export function matchPattern(p: Pattern, path: string): Record<string, string> | null {
  let re = compiled.get(p);
  if (!re) compiled.set(p, (re = new RegExp(p.re, "s")));
  const m = re.exec(path);
  if (!m) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.names.length; i++) out[p.names[i]!] = m[i + 1] ?? "";
  return out;
}

/** Replaces `:name` (and `:splat`) with captured values, each encoded by `enc`. */
export function substitute(template: string, params: Record<string, string>, enc: (s: string) => string): string {
  return template.replace(/:([A-Za-z]\w*)/g, (all, name: string) => (name in params ? enc(params[name] as string) : all));
}

/**
 * Percent-encodes every UTF-8 byte outside the unreserved set (RFC 3986) and, with
 * `keepSlash`, `/`. The output only ever matches `^[A-Za-z0-9\-._~/%]*$`, so it cannot
 * carry URL or header syntax (`\`, `@`, `:`, `,`, `;`, `<`, `"`, CR/LF, spaces).
 * Lone surrogates become U+FFFD (as TextEncoder would), never a thrown URIError.
 * @example percentEncode("a b/<c>", true) // "a%20b/%3Cc%3E"
 */
export function percentEncode(s: string, keepSlash: boolean): string {
  // encodeURIComponent leaves the unreserved set plus !'()*, which are escaped here.
  const out = encodeURIComponent(s.replace(/\p{Cs}/gu, "\uFFFD")).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return keepSlash ? out.replace(/%2F/g, "/") : out;
}

/**
 * What a browser may read as a separator at the start of a URL: `/` and `\`, raw or
 * percent-encoded at any depth (`%2F`, `%5C`, `%252F`), and the control characters and
 * spaces URL parsers strip (tab, CR, LF, ...), in any number and mix.
 */
const LEADING_SEPARATORS = /^(?:[/\\\u0000-\u0020\u007f]|%(?:25)*(?:2f|5c|[01][0-9a-f]|20|7f))+/i;

/** A redirect parameter: leading separators collapse, the rest is percent-encoded (`/` kept). */
export const encodeRedirectParam = (s: string): string => percentEncode(s.replace(LEADING_SEPARATORS, ""), true);

/** A `_headers` parameter: nothing but unreserved characters, `/` and `%XX` reach the header value. */
export const encodeHeaderParam = (s: string): string => percentEncode(s, true);

/** Absolute targets: the scheme and authority (never substituted), then the rest. */
const ABSOLUTE_TARGET = /^(https?:\/\/[^/?#\\]*)(.*)$/is;
/** A base used only to see which origin a relative target resolves to. */
const PROBE_BASE = "https://site.invalid/";
const PROBE_ORIGIN = "https://site.invalid";

/**
 * Fills a redirect target so that it stays where the rule points: a relative target
 * always starts with exactly one `/` followed by something other than `/` or `\`
 * (never `//host`), an absolute one keeps its configured origin. Undefined when the
 * result would leave (only possible with a malformed stored rule).
 * @example fillTarget("/:splat", { splat: "/evil.com" }) // "/evil.com"
 */
export function fillTarget(template: string, params: Record<string, string>): string | undefined {
  const abs = ABSOLUTE_TARGET.exec(template);
  if (abs) {
    const [, authority, rest] = abs as unknown as [string, string, string];
    const to = authority + substitute(rest, params, encodeRedirectParam);
    try {
      return new URL(to).origin === new URL(authority).origin ? to : undefined;
    } catch {
      return undefined;
    }
  }
  const filled = substitute(template, params, encodeRedirectParam);
  // An empty value next to a `/` (`/:splat/x` with an empty splat) must not make `//x`.
  const to = `/${filled.replace(/^[/\\\u0000-\u0020\u007f]+/, "")}`;
  try {
    return new URL(to, PROBE_BASE).origin === PROBE_ORIGIN ? to : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The first `_redirects` rule for `path`, with its target filled in (still relative or absolute, encoded).
 * A filled target that would point off the configured host is refused with a 404.
 * @example findRedirect(index, "/old") // { status: 301, to: "/new" }
 */
export function findRedirect(index: SiteIndex, path: string): { status: number; to: string } | undefined {
  for (const r of index.redirects as Redirect[]) {
    const params = r.pattern ? matchPattern(r.pattern, path) : r.from === path ? {} : null;
    if (!params) continue;
    const to = fillTarget(r.to, params);
    if (to === undefined) {
      console.warn(JSON.stringify({ level: "warn", code: "redirect_refused", line: r.line, message: "target would leave the configured host" }));
      throw new HttpError(404, "not_found", "not found");
    }
    return { status: r.status, to };
  }
  return undefined;
}

/**
 * Applies every matching `_headers` rule: the first rule that names a header replaces
 * the default, later ones append; `! Name` removes. Placeholders are percent-encoded,
 * so a request path can never add header syntax (a second `Link` entry, a parameter).
 * @example applyHeaderRules(index.headers, "/app.js", headers)
 */
export function applyHeaderRules(rules: readonly HeaderRule[], path: string, headers: Headers): void {
  const touched = new Set<string>();
  for (const rule of rules) {
    const params = matchPattern(rule.pattern, path);
    if (!params) continue;
    for (const name of rule.unset) headers.delete(name);
    for (const [name, value] of rule.set) {
      const v = substitute(value, params, encodeHeaderParam);
      const key = name.toLowerCase();
      if (touched.has(key)) headers.append(name, v);
      else headers.set(name, v);
      touched.add(key);
    }
  }
}
