/**
 * Path globs, used by the splitter's rules and the auth gate's public paths and scopes.
 * `*` matches any run of characters, `/` included (as a Pages `_redirects` splat does);
 * every other character matches itself. `/api/*` matches `/api/x/y` but not `/api`.
 *
 * Matching never backtracks: the literal runs between stars are found left to right,
 * each at its first place after the previous one (for `*`-only globs the leftmost
 * place is always a right choice, so nothing is ever retried). The cost is at most
 * the path's length times the glob's, whatever the glob: a regex `.*` per star costs
 * O(n^k) for k stars on a hostile path (three stars against 2 KB of slashes took the
 * gate close to a second).
 */
export type GlobMatcher = (path: string) => boolean;

/** Longest glob accepted, so a config cannot build a pathological matcher. */
export const MAX_GLOB_LENGTH = 256;

/**
 * Compiles a glob once, for use on every request.
 * @example
 * const isPublic = compileGlob("/public/*");
 * isPublic("/public/css/site.css") // true
 * isPublic("/private") // false
 */
export function compileGlob(pattern: string): GlobMatcher {
  if (pattern.length === 0 || pattern.length > MAX_GLOB_LENGTH) {
    throw new RangeError(`glob must be 1..${MAX_GLOB_LENGTH} characters, got ${pattern.length}`);
  }
  if (!pattern.includes("*")) return (path) => path === pattern;
  // "a**b" is "a*b": runs of stars collapse, so the parts are the literals between stars.
  const parts = pattern.split(/\*+/);
  const head = parts[0] as string;
  const tail = parts[parts.length - 1] as string;
  const middle = parts.slice(1, -1).filter((p) => p.length > 0);
  const fixed = head.length + tail.length;
  if (middle.length === 0) {
    if (fixed === 0) return () => true;
    return (path) => path.length >= fixed && path.startsWith(head) && path.endsWith(tail);
  }
  return (path) => {
    if (path.length < fixed || !path.startsWith(head) || !path.endsWith(tail)) return false;
    // Each middle literal at its leftmost place, inside what the head and tail leave free.
    const end = path.length - tail.length;
    let at = head.length;
    for (const part of middle) {
      const i = path.indexOf(part, at);
      if (i < 0 || i + part.length > end) return false;
      at = i + part.length;
    }
    return true;
  };
}

/**
 * True when any of `globs` matches `path`.
 * @example anyGlob([compileGlob("/health"), compileGlob("/public/*")], "/health") // true
 */
export function anyGlob(globs: readonly GlobMatcher[], path: string): boolean {
  for (const g of globs) if (g(path)) return true;
  return false;
}
