import { toBase64Url } from "../../shared/crypto.ts";
import { cookieValue } from "../../shared/http/cookies.ts";
import type { RolloutConfig } from "./model.ts";

/** What a minted or accepted sticky id may look like (16 random bytes as base64url, or a caller's own). */
const ID_SHAPE = /^[A-Za-z0-9_-]{8,128}$/;

/** A new random id: 16 bytes, base64url (22 characters). */
export const mintId = (): string => toBase64Url(crypto.getRandomValues(new Uint8Array(16)));

export interface StickyId {
  id: string;
  /** True when the id was minted for this request: the response must set the cookie. */
  minted: boolean;
}

/**
 * The id a request is bucketed by. A new visitor's id is minted here, before
 * routing, so the first request is routed by the id its cookie will carry.
 * `header` and `ip` stickiness fall back to the cookie when the value is absent.
 * @example stickyId(request, cfg) // { id: "Qk3...", minted: true }
 */
export function stickyId(headers: Headers, sticky: RolloutConfig["sticky"]): StickyId {
  if (sticky.by === "header" && sticky.header) {
    const v = headers.get(sticky.header);
    if (v) return { id: `h:${v}`, minted: false };
  } else if (sticky.by === "ip") {
    const ip = headers.get("cf-connecting-ip");
    if (ip) return { id: `ip:${ip}`, minted: false };
  }
  const c = cookieValue(headers.get("cookie"), sticky.cookie);
  if (c && ID_SHAPE.test(c)) return { id: c, minted: false };
  return { id: mintId(), minted: true };
}

/**
 * The Set-Cookie value for a minted id.
 * @example stickyCookie("edgekv_id", "abc", 3600) // "edgekv_id=abc; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax"
 */
export function stickyCookie(name: string, id: string, maxAge: number): string {
  return `${name}=${id}; Path=/; Max-Age=${maxAge}; HttpOnly; Secure; SameSite=Lax`;
}
