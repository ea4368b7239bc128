/**
 * Finding the one credential of a request (RFC 6750 section 2): the
 * Authorization header, or the configured cookie. Query-string tokens
 * (`?access_token=`, section 2.3) are refused unless ALLOW_QUERY_TOKEN is
 * "true": they end up in logs, histories and Referer headers.
 */
import { bearerToken } from "../../shared/http/bearer.ts";
import { cookieValues } from "../../shared/http/cookies.ts";

/** The RFC 6750 query parameter. */
export const QUERY_TOKEN_PARAM = "access_token";
/** Longest Authorization header looked at; a token is 34 characters, so anything near this is junk. */
export const MAX_AUTHORIZATION_LENGTH = 1024;

export type Credential =
  | { kind: "none" }
  /** 400 invalid_request: two credentials, a malformed header, a token in the query. */
  | { kind: "bad"; reason: string }
  | { kind: "token"; token: string; source: "header" | "cookie" | "query" };

/**
 * The request's credential.
 * @example extractCredential(new Request("https://x/", { headers: { Authorization: "Bearer ekv_..." } }), url, undefined, false)
 * // { kind: "token", token: "ekv_...", source: "header" }
 */
export function extractCredential(request: Request, url: URL, cookieName: string | undefined, allowQuery = false): Credential {
  const found: Credential[] = [];
  // No query, no query token: skips parsing one for most requests.
  const inQuery = url.search ? url.searchParams.getAll(QUERY_TOKEN_PARAM) : [];
  if (inQuery.length && !allowQuery) return { kind: "bad", reason: "tokens in the query string are refused" };
  for (const token of inQuery) found.push({ kind: "token", token, source: "query" });
  if ((request.headers.get("authorization")?.length ?? 0) > MAX_AUTHORIZATION_LENGTH) return { kind: "bad", reason: "Authorization header too long" };
  // Another scheme (Basic...) is null, no bearer credential: RFC 6750 says no error code then.
  const token = bearerToken(request.headers);
  if (token === "") return { kind: "bad", reason: "malformed Authorization header" };
  if (token !== null) found.push({ kind: "token", token, source: "header" });
  if (cookieName !== undefined) {
    for (const v of cookieValues(request.headers.get("cookie"), cookieName)) found.push({ kind: "token", token: v, source: "cookie" });
  }
  if (found.length > 1) return { kind: "bad", reason: "more than one credential" };
  return found[0] ?? { kind: "none" };
}
