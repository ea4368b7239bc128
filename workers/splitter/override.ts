import { signLink, verifyLink } from "../../shared/signed-link.ts";
import { cookieValue } from "../../shared/http/cookies.ts";
import { secretState } from "../../shared/http/secrets.ts";
import { COLORS, type Color, type RolloutConfig } from "./model.ts";

/**
 * A tester override value `<color>.<expiry epoch s>.<hmac>`, for the override cookie or header: a
 * signed link (shared/signed-link.ts) in the "edgekv-override" context, valid for at most 30 days.
 * @example await signOverride(secret, "green", Math.floor(Date.now() / 1000) + 86400) // "green.1795000000.Xy..."
 */
export function signOverride(secret: string, color: Color, exp: number): Promise<string> {
  return signLink(secret, "edgekv-override", color, exp);
}

/**
 * The colour a request forces, when its override cookie or header is signed
 * with `secret`, unexpired and within the signed-link lifetime cap; null
 * otherwise (unsigned, forged, expired, too long-lived, or no secret, or one
 * shorter than MIN_SECRET_BYTES).
 * @example await readOverride(request.headers, cfg.overrides, env.OVERRIDE_SECRET, Date.now()) // "green" | null
 */
export async function readOverride(headers: Headers, names: RolloutConfig["overrides"], secret: string | undefined, now: number): Promise<Color | null> {
  // A short secret is as good as none: a guessable key would let anyone pick their colour.
  const state = secretState("OVERRIDE_SECRET", "splitter", secret);
  if (state.kind !== "ok") return null;
  const raw = headers.get(names.header) ?? cookieValue(headers.get("cookie"), names.cookie);
  const color = raw ? await verifyLink(state.secret, "edgekv-override", raw, now) : null;
  return COLORS.includes(color as Color) ? (color as Color) : null;
}
