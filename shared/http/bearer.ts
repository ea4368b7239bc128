/**
 * Reading `Authorization: Bearer <token>` (RFC 6750 section 2.1): the scheme
 * is case-insensitive (RFC 7235), the token one RFC 6750 b64token. One parser
 * for the gate's tokens and the admin and status secrets.
 */

/** "Bearer" as the whole scheme, then, when well formed, one space and a b64token. */
const BEARER = /^bearer(?= |$)(?: ([\w.~+/-]+=*)$)?/i;

/**
 * The bearer token of a request's headers: null when there is no bearer
 * credential (no Authorization header, or another scheme such as Basic); ""
 * when the Bearer header is malformed (not one b64token; two Authorization
 * headers arrive joined by ", ", which fails too).
 * @example bearerToken(new Headers({ Authorization: "bearer abc" })) // "abc"
 */
export function bearerToken(headers: Headers): string | null {
  const m = BEARER.exec(headers.get("authorization") ?? "");
  return m ? (m[1] ?? "") : null;
}

/**
 * The secret sent as `Authorization: Bearer <secret>`, or "" when there is
 * none or it is malformed (either is simply a wrong secret).
 * @example bearerSecret(request.headers) // "s3cret..."
 */
export const bearerSecret = (headers: Headers): string => bearerToken(headers) ?? "";
