/**
 * Scopes are `METHOD:/glob` (method `*` for any). A token without scopes may
 * do everything the gate protects. HEAD is allowed wherever GET is.
 */
import { compileGlob, type GlobMatcher } from "../../shared/http/glob.ts";

type Compiled = { method: string; glob: GlobMatcher }[];
// Records from the isolate cache are the same objects, so their scopes compile once.
const compiled = new WeakMap<readonly string[], Compiled>();

function compile(scopes: readonly string[]): Compiled {
  let c = compiled.get(scopes);
  if (!c) {
    c = scopes.map((s) => {
      const colon = s.indexOf(":");
      return { method: s.slice(0, colon), glob: compileGlob(s.slice(colon + 1)) };
    });
    compiled.set(scopes, c);
  }
  return c;
}

/**
 * True when `scopes` allow `method` on the normalised `path`.
 * @example scopeAllows(["GET:/api/*"], "HEAD", "/api/x") // true
 */
export function scopeAllows(scopes: readonly string[], method: string, path: string): boolean {
  if (scopes.length === 0) return true;
  for (const { method: m, glob } of compile(scopes)) {
    if ((m === "*" || m === method || (method === "HEAD" && m === "GET")) && glob(path)) return true;
  }
  return false;
}
