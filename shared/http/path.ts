/**
 * Safe request-path normalisation shared by the Workers that make decisions on
 * paths (which file to serve, whether a path is public). The URL parser has
 * already resolved `.`/`..` and `%2e%2e`; this decodes each segment once and
 * refuses anything that could mean a different path after decoding.
 */

/** Longest path (in bytes of the raw, encoded pathname) a Worker accepts. */
export const MAX_PATH_BYTES = 2048;

export type PathResult =
  | { ok: true; /** Decoded path, always starting with "/". */ path: string; /** Decoded segments, empty ones dropped. */ segments: string[]; trailingSlash: boolean }
  | { ok: false; status: 400 | 414; reason: string };

// Decoded segments may not contain separators or control characters.
const FORBIDDEN_IN_SEGMENT = /[/\\\u0000-\u001f\u007f]/;

/**
 * Decodes and checks `pathname` (as in `new URL(request.url).pathname`).
 * @example
 * normalizePath("/docs/a%20b/") // { ok: true, path: "/docs/a b/", segments: ["docs", "a b"], trailingSlash: true }
 * normalizePath("/a%2Fb")       // { ok: false, status: 400, reason: "encoded separator or control character in path" }
 */
export function normalizePath(pathname: string): PathResult {
  if (pathname.length > MAX_PATH_BYTES) return { ok: false, status: 414, reason: "path too long" };
  if (!pathname.startsWith("/")) return { ok: false, status: 400, reason: "path must start with /" };
  const segments: string[] = [];
  for (const raw of pathname.split("/")) {
    if (raw === "") continue;
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return { ok: false, status: 400, reason: "malformed percent-encoding in path" };
    }
    if (FORBIDDEN_IN_SEGMENT.test(seg)) return { ok: false, status: 400, reason: "encoded separator or control character in path" };
    if (seg === "." || seg === "..") return { ok: false, status: 400, reason: "dot segment in path" };
    segments.push(seg);
  }
  const trailingSlash = pathname.length > 1 && pathname.endsWith("/");
  const path = `/${segments.join("/")}${trailingSlash && segments.length > 0 ? "/" : ""}`;
  return { ok: true, path, segments, trailingSlash };
}
