/**
 * Finding the one credential of a request (RFC 6750 section 2): the
 * Authorization header, or the configured cookie. Query-string tokens
 * (`?access_token=`, section 2.3) are refused unless ALLOW_QUERY_TOKEN is
 * "true": they end up in logs, histories and Referer headers.
 */

/** The RFC 6750 query parameter. */
export const QUERY_TOKEN_PARAM = "access_token";

/** Longest Authorization header looked at; a token is 34 characters, so anything near this is junk. */
export const MAX_AUTHORIZATION_LENGTH = 1024;
/** RFC 6750 b64token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

export type Credential =
  | { kind: "none" }
  /** 400 invalid_request: two credentials, a malformed header, a token in the query. */
  | { kind: "bad"; reason: string }
  | { kind: "token"; token: string; source: "header" | "cookie" | "query" };

/** Values of cookie `name` in a Cookie header (more than one means two credentials). */
export function cookieValues(header: string | null, name: string): string[] {
  const out: string[] = [];
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) out.push(part.slice(eq + 1).trim());
  }
  return out;
}

/**
 * The request's credential.
 * @example extractCredential(new Request("https://x/", { headers: { Authorization: "Bearer ekv_..." } }), url, undefined, false)
 * // { kind: "token", token: "ekv_...", source: "header" }
 */
export function extractCredential(request: Request, url: URL, cookieName: string | undefined, allowQuery = false): Credential {
  const found: Credential[] = [];
  const inQuery = url.searchParams.getAll(QUERY_TOKEN_PARAM);
  if (inQuery.length && !allowQuery) return { kind: "bad", reason: "tokens in the query string are refused" };
  for (const token of inQuery) found.push({ kind: "token", token, source: "query" });
  const auth = request.headers.get("authorization");
  if (auth !== null) {
    if (auth.length > MAX_AUTHORIZATION_LENGTH) return { kind: "bad", reason: "Authorization header too long" };
    const space = auth.indexOf(" ");
    const scheme = (space < 0 ? auth : auth.slice(0, space)).toLowerCase();
    // Another scheme (Basic...) is no bearer credential at all: RFC 6750 says no error code then.
    if (scheme === "bearer") {
      const value = space < 0 ? "" : auth.slice(space + 1);
      // Two Authorization headers arrive joined by ", ", which fails here too.
      if (!B64TOKEN.test(value)) return { kind: "bad", reason: "malformed Authorization header" };
      found.push({ kind: "token", token: value, source: "header" });
    }
  }
  if (cookieName !== undefined) {
    const values = cookieValues(request.headers.get("cookie"), cookieName);
    for (const v of values) found.push({ kind: "token", token: v, source: "cookie" });
  }
  if (found.length > 1) return { kind: "bad", reason: "more than one credential" };
  return found[0] ?? { kind: "none" };
}
