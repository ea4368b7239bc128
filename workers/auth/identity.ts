/**
 * Building the request the origin receives: same method, streamed body, path
 * and query; no client-sent identity headers; the gate's identity added, with
 * a signed JWT (assertion.ts) that is the only part origins should trust; the
 * credential removed by default.
 */
import { ASSERTION_HEADER, assertionClaims, type AssertionSigner } from "./assertion.ts";
import { withoutCookie } from "../../shared/http/cookies.ts";
import { forwardHeaders, forwardRequest } from "../../shared/http/forward.ts";
import { originTarget, withoutParams } from "../../shared/http/target.ts";
import { QUERY_TOKEN_PARAM } from "./credential.ts";
import { isStripped } from "./strip.ts";
import type { GateConfig } from "./config.ts";
import type { TokenRecord } from "./store.ts";

export const IDENTITY_PREFIX = "x-edgekv-";
export const H_USER = "x-edgekv-user";
export const H_SCOPES = "x-edgekv-scopes";
export const H_EXPIRES = "x-edgekv-token-expires";
export const H_TOKEN_ID = "x-edgekv-token-id";

export interface Identity {
  user: string;
  /** Space-separated scopes, "*" for an unrestricted token. */
  scopes: string;
  /** Token expiry, epoch seconds. */
  expires: number;
  tokenId: string;
}

/** What a token's record tells the origin. */
export function identityOf(r: TokenRecord): Identity {
  return { user: r.user, scopes: r.scopes.length ? r.scopes.join(" ") : "*", expires: Math.floor(r.expiresAt / 1000), tokenId: r.id };
}

/**
 * The origin-bound request. `path` is the normalised, still percent-encoded
 * path the decision was made on (empty segments collapsed), so the origin sees
 * exactly the path the gate checked.
 */
export async function buildOriginRequest(
  request: Request,
  url: URL,
  path: string,
  identity: Identity | undefined,
  config: GateConfig,
  nowMs: number,
): Promise<Request> {
  // The shared forwarding policy (shared/http/forward.ts: Host, hop-by-hop, X-Forwarded-*), minus the
  // identity, method-override and path-override headers a client may not send (strip.ts). A record,
  // made headers once by the Request (issue 26: one runtime call, not one per header).
  const headers = forwardHeaders(request, url, { forwardedHost: config.forwardedHost, drop: (n) => isStripped(n, config.stripHeaders) });
  if (!config.forwardAuthorization) {
    delete headers.authorization;
    const cookie = headers.cookie;
    if (config.cookieName && cookie !== undefined) {
      // Exactly the pairs the gate read as credentials (shared/http/cookies.ts).
      const kept = withoutCookie(cookie, config.cookieName);
      if (kept === null) delete headers.cookie;
      else headers.cookie = kept;
    }
  }
  if (identity) {
    // Informational only: the JWT below is what an origin should trust.
    headers[H_USER] = identity.user;
    headers[H_SCOPES] = identity.scopes;
    headers[H_EXPIRES] = String(identity.expires);
    headers[H_TOKEN_ID] = identity.tokenId;
  }
  // A token in the query (when accepted) is a credential like Authorization: the origin never sees it.
  // The other pairs go on exactly as sent (and as the scope check read them).
  let search = url.search;
  if (search && !config.forwardAuthorization && url.searchParams.has(QUERY_TOKEN_PARAM)) search = withoutParams(search, (n) => n === QUERY_TOKEN_PARAM);
  // The configured origin plus the decided path: nothing in the request picks the host (shared/http/target.ts).
  const target = originTarget(config.originBase ?? { origin: url.origin, prefix: "" }, path, search);
  if (identity && config.assertion) headers[ASSERTION_HEADER] = await signAssertion(config.assertion, config, identity, request.method, url, target, nowMs);
  // An authenticated answer is one user's: Cloudflare's cache keys subrequests by URL alone, so
  // never let it store or serve one (another user with the same path in scope would get it).
  return forwardRequest(request, target, headers, identity ? { cache: "no-store" } : {});
}

/** The identity JWT for one forwarded request. */
function signAssertion(
  signer: AssertionSigner,
  config: GateConfig,
  identity: Identity,
  method: string,
  url: URL,
  target: string,
  nowMs: number,
): Promise<string> {
  // htu is the exact URL sent (ORIGIN_URL's path prefix and the query included), parsed as fetch will.
  const htu = new URL(target);
  const claims = assertionClaims({
    iss: config.assertionIssuer ?? url.origin,
    aud: config.assertionAudience ?? htu.origin,
    user: identity.user,
    scopes: identity.scopes,
    tokenId: identity.tokenId,
    method,
    url: htu.href,
    nowMs,
  });
  return signer.sign(claims);
}
