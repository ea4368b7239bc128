/**
 * The one path policy of the three Workers: decide on the normalised path and
 * forward exactly that path. The URL parser has already resolved `.`/`..`,
 * `%2e%2e` and turned `\` into `/`; this decodes each segment once, refuses
 * anything that could mean a different path to the origin than to us, and
 * gives back the canonical percent-encoded form to forward.
 *
 * Refused (400): encoded `/` or `\`, control characters, malformed or
 * double percent-encoding (`%252e`), dot segments, segments that become a separator, a dot
 * segment or a `%` under Unicode NFKC (fullwidth `．．`, `／`: some origins
 * normalise), and path parameters (`;`) unless the caller opts in. Even then,
 * a segment whose part before `;` is empty, `.` or `..` is refused, because
 * Tomcat, Jetty and Spring read `/public/..;/admin` as `/admin`
 * (CVE-2020-1957 and its family).
 */

/** Longest path (in bytes of the raw, encoded pathname) a Worker accepts. */
export const MAX_PATH_BYTES = 2048;

export interface PathPolicy {
  /**
   * Accept `;` path parameters (matrix parameters, `;jsessionid=`). Off by
   * default; the part before the first `;` of a segment must still be a real name.
   */
  pathParams?: boolean;
}

export type PathResult =
  | {
      ok: true;
      /** Decoded path, always starting with "/"; what decisions are made on. */
      path: string;
      /** The same path percent-encoded canonically: what is forwarded. Decodes back to `path`. */
      encoded: string;
      /** Decoded segments, empty ones dropped. */
      segments: string[];
      trailingSlash: boolean;
    }
  | { ok: false; status: 400 | 414; reason: string };

// Decoded segments may not contain separators or control characters.
const FORBIDDEN_IN_SEGMENT = /[/\\\u0000-\u001f\u007f-\u009f]/;
// RFC 3986 pchar minus "%": a raw segment made only of these is already canonical (the fast path).
const CANONICAL_SEGMENT = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]*$/;
// Characters encodeURIComponent escapes that are fine as they are in a path segment.
const PCHAR_ESCAPES = /%(2[46BC]|3[ABD]|40)/g;
const NON_ASCII = /[^\u0000-\u007f]/;
const DOUBLE_ENCODED = /%[0-9A-Fa-f]{2}/;
// What an NFKC-normalising origin could turn a segment into that changes the path.
const NFKC_DANGER = /[/\\%;]/;

const isDots = (s: string) => s === "" || s === "." || s === "..";
const fail = (reason: string): PathResult => ({ ok: false, status: 400, reason });

/**
 * Percent-encodes one decoded segment canonically (RFC 3986 pchar kept as is).
 * @example encodeSegment("a b;c") // "a%20b;c"
 */
export function encodeSegment(seg: string): string {
  return CANONICAL_SEGMENT.test(seg) ? seg : encodeURIComponent(seg).replace(PCHAR_ESCAPES, decodeURIComponent);
}

/** Why `seg` (decoded) is refused, or undefined. */
function segmentProblem(seg: string, policy: PathPolicy): string | undefined {
  if (FORBIDDEN_IN_SEGMENT.test(seg)) return "encoded separator or control character in path";
  if (seg === "." || seg === "..") return "dot segment in path";
  // `%252e` decodes to `%2e`: an origin that decodes again would see another path.
  if (DOUBLE_ENCODED.test(seg)) return "double-encoded character in path";
  const semi = seg.indexOf(";");
  if (semi >= 0) {
    if (!policy.pathParams) return "path parameters (;) are not accepted";
    if (isDots(seg.slice(0, semi))) return "path parameter on an empty or dot segment";
  }
  if (NON_ASCII.test(seg)) {
    const n = seg.normalize("NFKC");
    if (n !== seg && (NFKC_DANGER.test(n) || n === "." || n === "..")) {
      return "character that normalises to a separator, dot or %";
    }
  }
  return undefined;
}

/**
 * Decodes and checks `pathname` (as in `new URL(request.url).pathname`).
 * @example
 * normalizePath("/docs/a%20b/") // { ok: true, path: "/docs/a b/", encoded: "/docs/a%20b/", segments: ["docs", "a b"], trailingSlash: true }
 * normalizePath("/a%2Fb")       // { ok: false, status: 400, reason: "encoded separator or control character in path" }
 * normalizePath("/public/..;/admin", { pathParams: true }) // { ok: false, ... }
 */
export function normalizePath(pathname: string, policy: PathPolicy = {}): PathResult {
  if (pathname.length > MAX_PATH_BYTES) return { ok: false, status: 414, reason: "path too long" };
  if (!pathname.startsWith("/")) return fail("path must start with /");
  const segments: string[] = [];
  let encoded = "";
  for (const raw of pathname.split("/")) {
    if (raw === "") continue;
    const canonical = CANONICAL_SEGMENT.test(raw);
    let seg = raw;
    if (!canonical) {
      try {
        seg = decodeURIComponent(raw);
      } catch {
        return fail("malformed percent-encoding in path");
      }
    }
    const problem = segmentProblem(seg, policy);
    if (problem) return fail(problem);
    segments.push(seg);
    encoded += `/${canonical ? raw : encodeSegment(seg)}`;
  }
  const trailingSlash = pathname.length > 1 && pathname.endsWith("/");
  const slash = trailingSlash && segments.length > 0 ? "/" : "";
  return { ok: true, path: `/${segments.join("/")}${slash}`, encoded: `${encoded}${slash}` || "/", segments, trailingSlash };
}
