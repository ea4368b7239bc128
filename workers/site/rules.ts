/** Runtime side of `_redirects` and `_headers`: rules were parsed and compiled at deploy time. */
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
  p.names.forEach((n, i) => (out[n] = m[i + 1] ?? ""));
  return out;
}

/** Replaces `:name` (and `:splat`) with captured values, each encoded by `enc`. */
export function substitute(template: string, params: Record<string, string>, enc: (s: string) => string): string {
  return template.replace(/:([A-Za-z]\w*)/g, (all, name: string) => (name in params ? enc(params[name] as string) : all));
}

const encodeParam = (s: string) => encodeURIComponent(s).replace(/%2F/g, "/");

/**
 * The first `_redirects` rule for `path`, with its target filled in (still relative or absolute, encoded).
 * @example findRedirect(index, "/old") // { status: 301, to: "/new", rule }
 */
export function findRedirect(index: SiteIndex, path: string): { status: number; to: string } | undefined {
  for (const r of index.redirects as Redirect[]) {
    const params = r.pattern ? matchPattern(r.pattern, path) : r.from === path ? {} : null;
    if (params) return { status: r.status, to: substitute(r.to, params, encodeParam) };
  }
  return undefined;
}

/**
 * Applies every matching `_headers` rule: the first rule that names a header replaces
 * the default, later ones append; `! Name` removes.
 * @example applyHeaderRules(index.headers, "/app.js", headers)
 */
export function applyHeaderRules(rules: readonly HeaderRule[], path: string, headers: Headers): void {
  const touched = new Set<string>();
  for (const rule of rules) {
    const params = matchPattern(rule.pattern, path);
    if (!params) continue;
    for (const name of rule.unset) headers.delete(name);
    for (const [name, value] of rule.set) {
      const v = substitute(value, params, (s) => s);
      const key = name.toLowerCase();
      if (touched.has(key)) headers.append(name, v);
      else headers.set(name, v);
      touched.add(key);
    }
  }
}
