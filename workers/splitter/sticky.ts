import { toBase64Url } from "../../shared/crypto.ts";
import { cookieValues } from "../../shared/http/cookies.ts";
import type { RolloutConfig } from "./model.ts";

/** What a minted or accepted sticky id may look like (16 random bytes as base64url, or a caller's own). */
const ID_SHAPE = /^[A-Za-z0-9_-]{8,128}$/;

/** A new random id: 16 bytes, base64url (22 characters). */
export const mintId = (): string => toBase64Url(crypto.getRandomValues(new Uint8Array(16)));

export interface StickyId {
  id: string;
  /** True when the id was minted for this request: the response must set the cookie. */
  minted: boolean;
  /** The one value forwarded under the sticky cookie's name (the id used, or minted); undefined: no sticky cookie pair. */
  cookie: string | undefined;
}

/**
 * The first valid id among the sticky cookie's values (RFC 6265 quotes
 * removed). A sibling subdomain can plant a second `edgekv_id` before the
 * visitor's: a garbled one must not hide the valid one (a new id, a new colour,
 * on every request). Names are case-sensitive: `EDGEKV_ID` is another cookie.
 * @example cookieId("edgekv_id=x; edgekv_id=Qk3abcdefgh", "edgekv_id") // "Qk3abcdefgh"
 */
export function cookieId(header: string | null, name: string): string | undefined {
  for (let v of cookieValues(header, name)) {
    if (v.length > 1 && v[0] === '"' && v.endsWith('"')) v = v.slice(1, -1);
    if (ID_SHAPE.test(v)) return v;
  }
  return undefined;
}

/**
 * The id a request is bucketed by. A new visitor's id is minted here, before
 * routing, so the first request is routed by the id its cookie will carry.
 * `header` and `ip` stickiness fall back to the cookie when the value is absent.
 * @example stickyId(request.headers, config.sticky) // new visitor: { id: "Qk3...", minted: true, cookie: "Qk3..." }
 */
export function stickyId(headers: Headers, sticky: RolloutConfig["sticky"]): StickyId {
  // Two Cookie lines arrive joined by ", ": the shared parser splits there too, or the valid id is lost.
  const c = cookieId(headers.get("cookie"), sticky.cookie);
  if (sticky.by === "header" && sticky.header) {
    const v = headers.get(sticky.header);
    if (v) return { id: `h:${v}`, minted: false, cookie: c };
  } else if (sticky.by === "ip") {
    const ip = headers.get("cf-connecting-ip");
    if (ip) return { id: `ip:${ip}`, minted: false, cookie: c };
  }
  if (c) return { id: c, minted: false, cookie: c };
  const id = mintId();
  return { id, minted: true, cookie: id };
}

/**
 * The Set-Cookie value for a minted id.
 * @example stickyCookie("edgekv_id", "abc", 3600) // "edgekv_id=abc; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax"
 */
export function stickyCookie(name: string, id: string, maxAge: number): string {
  return `${name}=${id}; Path=/; Max-Age=${maxAge}; HttpOnly; Secure; SameSite=Lax`;
}
