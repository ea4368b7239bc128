import { hmacSha256, verifyHmacSha256 } from "../../shared/crypto.ts";
import { cookieValue } from "../../shared/http/cookies.ts";
import { secretState } from "../../shared/http/secrets.ts";
import { COLORS, type Color, type RolloutConfig } from "./model.ts";

/** What the signature covers, so a signature for something else never validates here. */
const payload = (color: Color, exp: number) => `edgekv-override:${color}.${exp}`;

/**
 * A tester override value `<color>.<expiry epoch s>.<hmac>`, for the override cookie or header.
 * @example await signOverride(secret, "green", Math.floor(Date.now() / 1000) + 86400) // "green.1795000000.Xy..."
 */
export async function signOverride(secret: string, color: Color, exp: number): Promise<string> {
  return `${color}.${exp}.${await hmacSha256(secret, payload(color, exp))}`;
}

/**
 * The colour a request forces, when its override cookie or header is signed
 * with `secret` and unexpired; null otherwise (unsigned, forged, expired, or no
 * secret, or one shorter than MIN_SECRET_BYTES).
 * @example await readOverride(request.headers, cfg.overrides, env.OVERRIDE_SECRET, Date.now()) // "green" | null
 */
export async function readOverride(headers: Headers, names: RolloutConfig["overrides"], secret: string | undefined, now: number): Promise<Color | null> {
  // A short secret is as good as none: a guessable key would let anyone pick their colour.
  const state = secretState("OVERRIDE_SECRET", "splitter", secret);
  if (state.kind !== "ok") return null;
  const raw = headers.get(names.header) ?? cookieValue(headers.get("cookie"), names.cookie);
  if (!raw || raw.length > 200) return null;
  const [color, expRaw, sig, extra] = raw.split(".");
  if (extra !== undefined || sig === undefined || !COLORS.includes(color as Color)) return null;
  const exp = Number(expRaw);
  if (!Number.isInteger(exp) || exp * 1000 <= now) return null;
  return (await verifyHmacSha256(state.secret, payload(color as Color, exp), sig)) ? (color as Color) : null;
}
