/**
 * Reading a Cookie request header (RFC 6265 section 5.4): pairs split on ";",
 * name and value trimmed, a part without "=" or with an empty name ignored,
 * values taken as they are (no unquoting, no decoding). One parser for every
 * Worker, so the gate, the splitter and the origin request agree on what a
 * cookie is.
 */

/**
 * Every value of cookie `name`, in order. For a credential, more than one is
 * two credentials, never "take the first".
 * @example cookieValues("t=a; x=1; t=b", "t") // ["a", "b"]
 */
export function cookieValues(header: string | null, name: string): string[] {
  const out: string[] = [];
  for (const part of (header ?? "").split(";")) {
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
  const parts = header.split(";");
  // A part holds no ";", so cookieValues of one part is that pair alone.
  const kept = parts.filter((part) => !cookieValues(part, name).length);
  if (kept.length === parts.length) return header;
  return kept.length ? kept.join(";").trim() : null;
}
