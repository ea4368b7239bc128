/**
 * Path globs, used by the splitter's rules and the auth gate's public paths and scopes.
 * `*` matches any run of characters, `/` included (as a Pages `_redirects` splat does);
 * every other character matches itself. `/api/*` matches `/api/x/y` but not `/api`.
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
  if (pattern === "*") return () => true;
  if (!pattern.includes("*")) return (path) => path === pattern;
  // Collapse runs of "*" so the regex stays linear.
  const source = pattern
    .replace(/\*+/g, "*")
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  const re = new RegExp(`^${source}$`, "s");
  return (path) => re.test(path);
}

/**
 * True when any of `globs` matches `path`.
 * @example anyGlob([compileGlob("/health"), compileGlob("/public/*")], "/health") // true
 */
export function anyGlob(globs: readonly GlobMatcher[], path: string): boolean {
  for (const g of globs) if (g(path)) return true;
  return false;
}
