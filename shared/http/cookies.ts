/**
 * Reading a Cookie request header (RFC 6265 section 5.4): pairs split on ";"
 * and on "," (a client that sends two Cookie lines reaches the Worker with them
 * joined by ", ", and a cookie after that comma is still a cookie to origins that
 * split on both), name and value trimmed, a part without "=" or with an empty
 * name ignored, values taken as they are (no unquoting, no decoding). One parser
 * for every Worker, so the gate, the splitter and the origin request agree on
 * what a cookie is. A value holding a comma (RFC 6265 forbids it) is read up to it.
 */

/** Where one pair ends and the next begins. */
const SEPARATOR = /[;,]/;

/**
 * Every value of cookie `name`, in order. For a credential, more than one is
 * two credentials, never "take the first".
 * @example cookieValues("t=a; x=1; t=b", "t") // ["a", "b"]
 */
export function cookieValues(header: string | null, name: string): string[] {
  const out: string[] = [];
  for (const part of (header ?? "").split(SEPARATOR)) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) out.push(part.slice(eq + 1).trim());
  }
  return out;
}

/**
 * The first value of cookie `name`, or null.
 * @example cookieValue("a=1; edgekv_id=xyz", "edgekv_id") // "xyz"
 */
export const cookieValue = (header: string | null, name: string): string | null => cookieValues(header, name)[0] ?? null;

/**
 * The Cookie header without every pair named `name` (exactly the pairs
 * `cookieValues` finds); the header unchanged when it has none; null when
 * nothing is left.
 * @example withoutCookie("a=1; t=x; b=2", "t") // "a=1; b=2"
 */
export function withoutCookie(header: string, name: string): string | null {
  // Each part keeps the separator before it, so the other pairs reach the origin as sent.
  const parts = header.split(/(?=[;,])/);
  const kept = parts.filter((part) => !cookieValues(part.slice(SEPARATOR.test(part[0] ?? "") ? 1 : 0), name).length);
  if (kept.length === parts.length) return header;
  const rest = kept
    .join("")
    .replace(/^[\s;,]+/, "")
    .trim();
  return rest ? rest : null;
}
