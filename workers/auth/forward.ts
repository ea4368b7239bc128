/**
 * Building the request the origin receives: same method, streamed body, path
 * and query; no client-sent identity headers; the gate's identity added (and
 * signed when IDENTITY_SECRET is set); the credential removed by default.
 */
import { hmacSha256 } from "../../shared/crypto.ts";
import { QUERY_TOKEN_PARAM, cookieValues } from "./credential.ts";
import type { GateConfig } from "./config.ts";
import type { TokenRecord } from "./tokens.ts";

export const IDENTITY_PREFIX = "x-edgekv-";
export const H_USER = "x-edgekv-user";
export const H_SCOPES = "x-edgekv-scopes";
export const H_EXPIRES = "x-edgekv-token-expires";
export const H_TOKEN_ID = "x-edgekv-token-id";
export const H_TIMESTAMP = "x-edgekv-timestamp";
export const H_SIGNATURE = "x-edgekv-signature";

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
 * The exact string the gate signs; the origin rebuilds it from the headers it
 * received and its own view of method and path.
 * @example signedPayload({ user: "alice", scopes: "*", expires: 1700000000 }, "GET", "/api/x", 1699999000)
 * // "v1\nalice\n*\n1700000000\nGET\n/api/x\n1699999000"
 */
export function signedPayload(id: Pick<Identity, "user" | "scopes" | "expires">, method: string, path: string, timestamp: number): string {
  return ["v1", id.user, id.scopes, id.expires, method, path, timestamp].join("\n");
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
  const headers = new Headers(request.headers);
  for (const name of [...headers.keys()]) {
    if (name.startsWith(IDENTITY_PREFIX) || config.stripHeaders.has(name)) headers.delete(name);
  }
  headers.delete("host");
  if (!config.forwardAuthorization) {
    headers.delete("authorization");
    const cookie = headers.get("cookie");
    if (config.cookieName && cookie !== null && cookieValues(cookie, config.cookieName).length) {
      const kept = cookie.split(";").filter((p) => p.slice(0, p.indexOf("=")).trim() !== config.cookieName);
      if (kept.length) headers.set("cookie", kept.join(";").trim());
      else headers.delete("cookie");
    }
  }
  if (identity) {
    headers.set(H_USER, identity.user);
    headers.set(H_SCOPES, identity.scopes);
    headers.set(H_EXPIRES, String(identity.expires));
    headers.set(H_TOKEN_ID, identity.tokenId);
    if (config.identitySecret) {
      const ts = Math.floor(nowMs / 1000);
      headers.set(H_TIMESTAMP, String(ts));
      headers.set(H_SIGNATURE, await hmacSha256(config.identitySecret, signedPayload(identity, request.method, path, ts)));
    }
  }
  // A token in the query (when accepted) is a credential like Authorization: the origin never sees it.
  let search = url.search;
  if (!config.forwardAuthorization && url.searchParams.has(QUERY_TOKEN_PARAM)) {
    const params = new URLSearchParams(url.search);
    params.delete(QUERY_TOKEN_PARAM);
    search = params.size ? `?${params}` : "";
  }
  const target = (config.originUrl ?? url.origin) + path + search;
  const hasBody = request.method !== "GET" && request.method !== "HEAD";
  return new Request(target, { method: request.method, headers, body: hasBody ? request.body : null, redirect: "manual" });
}
