/**
 * Compiles `_redirects` and `_headers` (Cloudflare Pages syntax) at deploy time into
 * the rules the Worker matches (workers/site/rules.ts). Any bad line is refused with
 * its file name and line number, so a bad deploy never replaces a good site.
 */
import { normalizePath } from "../../shared/http/path.ts";
import { InputError } from "../errors.ts";
import {
  MAX_DYNAMIC_REDIRECTS,
  MAX_HEADER_RULES,
  MAX_STATIC_REDIRECTS,
  REDIRECT_STATUS,
  SITE_PATH_POLICY,
  type HeaderRule,
  type Pattern,
  type Redirect,
} from "../../workers/site/model.ts";

/** Pages' line limits. */
export const MAX_REDIRECT_LINE = 1000;
export const MAX_HEADERS_LINE = 2000;

const PLACEHOLDER = /^:([A-Za-z]\w*)$/;
/** Base for resolving relative targets at deploy time, to see that they stay on the site. */
const SITE_PROBE = "http://site.invalid/";
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function fail(file: string, line: number, message: string): never {
  throw new InputError(`${file}:${line}: ${message}`);
}

/**
 * Compiles a path pattern: `*` (once) is the splat, a `:name` segment matches one segment.
 * Literal parts are decoded as request paths are. Null when it has neither.
 * @example compilePattern("/blog/:slug/*") // { re: "^/blog/([^/]+)/(.*)$", names: ["slug", "splat"] }
 */
export function compilePattern(raw: string): { path: string; pattern: Pattern | null } {
  if (!raw.startsWith("/")) throw new Error(`"${raw}" must be a path starting with / (host patterns are not supported)`);
  if ((raw.match(/\*/g) ?? []).length > 1) throw new Error(`"${raw}" has more than one *`);
  const norm = normalizePath(raw, SITE_PATH_POLICY);
  if (!norm.ok) throw new Error(`"${raw}": ${norm.reason}`);
  const names: string[] = [];
  let dynamic = false;
  const parts = norm.path.split("/").map((seg) => {
    const ph = PLACEHOLDER.exec(seg);
    if (ph) {
      if (names.includes(ph[1]!)) throw new Error(`"${raw}" repeats :${ph[1]}`);
      names.push(ph[1]!);
      dynamic = true;
      return "([^/]+)";
    }
    return seg
      .split("*")
      .map((lit) => lit.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join("(.*)");
  });
  if (raw.includes("*")) {
    // The splat's place among the captures follows its position in the pattern.
    const before = norm.path.slice(0, norm.path.indexOf("*"));
    const idx = before.split("/").filter((s) => PLACEHOLDER.test(s)).length;
    names.splice(idx, 0, "splat");
    dynamic = true;
  }
  return { path: norm.path, pattern: dynamic ? { re: `^${parts.join("/")}$`, names } : null };
}

function lines(text: string): [number, string][] {
  return text.split(/\r?\n/).map((l, i) => [i + 1, l] as [number, string]);
}

/**
 * Parses `_redirects`: `FROM TO [STATUS]` per line, status 301/302 (default)/303/307/308,
 * or 200 to serve another file of the site under the same URL.
 * @example parseRedirects("/old /new 301\n/blog/* /posts/:splat", "_redirects")
 */
export function parseRedirects(text: string, file = "_redirects"): Redirect[] {
  const out: Redirect[] = [];
  let statics = 0;
  let dynamics = 0;
  for (const [n, rawLine] of lines(text)) {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (rawLine.length > MAX_REDIRECT_LINE) fail(file, n, `line is longer than ${MAX_REDIRECT_LINE} characters`);
    const tokens = line.split(/\s+/);
    if (tokens.length < 2 || tokens.length > 3) fail(file, n, `expected "FROM TO [STATUS]", got ${tokens.length} field(s)`);
    const [from, to, statusText = "302"] = tokens as [string, string, string?];
    const status = Number(statusText);
    if (!/^\d+$/.test(statusText) || !(REDIRECT_STATUS as readonly number[]).includes(status)) {
      fail(file, n, `invalid status "${statusText}" (use ${REDIRECT_STATUS.join(", ")})`);
    }
    let compiled;
    try {
      compiled = compilePattern(from);
    } catch (err) {
      fail(file, n, (err as Error).message);
    }
    const names = compiled.pattern?.names ?? [];
    // The scheme and host of an absolute target are fixed: the Worker never substitutes there.
    const authorityEnd = /^https?:\/\/[^/?#\\]*/i.exec(to)?.[0].length ?? 0;
    for (const m of to.matchAll(/:([A-Za-z]\w*)/g)) {
      const inAuthority = m.index < authorityEnd;
      if (inAuthority && names.includes(m[1]!)) {
        fail(file, n, `target puts :${m[1]} in its host; placeholders may only fill the path or query of a URL`);
      }
      if (!inAuthority && !names.includes(m[1]!)) fail(file, n, `target uses :${m[1]} but "${from}" does not define it`);
    }
    let target: string;
    if (/^https?:\/\//i.test(to)) {
      if (status === 200) fail(file, n, "a 200 rewrite must point to a path of this site, not a URL");
      try {
        target = new URL(to).href;
      } catch {
        fail(file, n, `invalid target URL "${to}"`);
      }
    } else if (to.startsWith("/")) {
      // Browsers drop tabs and newlines, and read `\` as `/`: `//host` and `/\host` name another site.
      if (/^[/\\]{2}/.test(to.replace(/[\t\n\r]/g, ""))) {
        fail(file, n, `target "${to}" is protocol-relative (another host); write https://host/... to leave the site`);
      }
      const u = new URL(to, SITE_PROBE);
      if (u.origin !== new URL(SITE_PROBE).origin) fail(file, n, `target "${to}" leaves the site`);
      target = u.pathname + u.search + u.hash;
    } else fail(file, n, `target "${to}" must start with / or http(s)://`);
    if (compiled.pattern ? ++dynamics > MAX_DYNAMIC_REDIRECTS : ++statics > MAX_STATIC_REDIRECTS) {
      fail(file, n, `more than ${compiled.pattern ? MAX_DYNAMIC_REDIRECTS : MAX_STATIC_REDIRECTS} ${compiled.pattern ? "dynamic" : "static"} rules`);
    }
    out.push({ line: n, from: compiled.path, ...(compiled.pattern ? { pattern: compiled.pattern } : {}), to: target, status: status as Redirect["status"] });
  }
  return out;
}

/**
 * Parses `_headers`: a path pattern on its own line, then indented `Name: value` lines
 * (`! Name` removes a header, default ones included).
 * @example parseHeaders("/assets/*\n  Cache-Control: public, max-age=60\n  ! Referrer-Policy")
 */
export function parseHeaders(text: string, file = "_headers"): HeaderRule[] {
  const out: HeaderRule[] = [];
  let current: (HeaderRule & { line: number }) | undefined;
  const finish = () => {
    if (current && current.set.length + current.unset.length === 0) fail(file, current.line, "rule has no header lines");
  };
  for (const [n, rawLine] of lines(text)) {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (rawLine.length > MAX_HEADERS_LINE) fail(file, n, `line is longer than ${MAX_HEADERS_LINE} characters`);
    if (!/^\s/.test(rawLine)) {
      finish();
      if (out.length >= MAX_HEADER_RULES) fail(file, n, `more than ${MAX_HEADER_RULES} rules`);
      let compiled;
      try {
        compiled = compilePattern(line);
      } catch (err) {
        fail(file, n, (err as Error).message);
      }
      const pattern = compiled.pattern ?? { re: `^${compiled.path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, names: [] };
      current = { line: n, pattern, set: [], unset: [] };
      out.push(current);
      continue;
    }
    if (!current) fail(file, n, "header line before any path (indent header lines under a path)");
    if (line.startsWith("!")) {
      const name = line.slice(1).trim();
      if (!HEADER_NAME.test(name)) fail(file, n, `invalid header name "${name}"`);
      current.unset.push(name);
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) fail(file, n, `expected "Name: value", got "${line}"`);
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (!HEADER_NAME.test(name)) fail(file, n, `invalid header name "${name}"`);
    if (!HEADER_VALUE.test(value)) fail(file, n, `invalid characters in the value of ${name}`);
    current.set.push([name, value]);
  }
  finish();
  return out.map(({ pattern, set, unset }) => ({ pattern, set, unset }));
}
