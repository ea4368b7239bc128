/**
 * Signed, expiring links: one construction for the site's preview links
 * (workers/site/preview.ts) and the splitter's tester overrides
 * (workers/splitter/override.ts), signed by the CLI with the Worker's secret.
 *
 * A token is `<subject>.<expiry in epoch seconds>.<HMAC-SHA-256, base64url>`
 * over `<context>:<subject>.<expiry>`. The context names the use, so a preview
 * token never verifies as an override and the other way round, even under one
 * secret. Subjects are `[A-Za-z0-9_-]{1,64}` (no `.` or `:`), so the signed
 * text is unambiguous. Every token lives at most MAX_LINK_SECONDS: a longer one
 * is refused even when its signature is good, which bounds what a leaked link
 * (or a leaked secret's forgery) is worth. Runtime-neutral: the CLI imports it.
 */
import { hmacSha256, verifyHmacSha256 } from "./crypto.ts";

/** What a token is for; part of what is signed. */
export type LinkContext = "edgekv-preview" | "edgekv-override";

/** Longest lifetime of any signed link: 30 days. The CLI refuses a longer `--ttl` before signing. */
export const MAX_LINK_SECONDS = 30 * 24 * 3600;
/** Clock difference tolerated between the CLI that signs and the edge that checks (on top of the cap). */
export const CLOCK_SKEW_SECONDS = 300;
/** Longer tokens are junk: a 64-character subject, a 12-digit expiry and a 43-character signature fit. */
export const MAX_LINK_CHARS = 128;

/** `\w` is `[A-Za-z0-9_]` here (no `u` flag). */
const SUBJECT = /^[\w-]{1,64}$/;
/** Canonical only: no sign, no leading zero, no exponent, exactly one HMAC-SHA-256 in base64url. */
const TOKEN = /^([\w-]{1,64})\.([1-9]\d{0,11})\.([\w-]{43})$/;

const signed = (context: LinkContext, subject: string, exp: number) => `${context}:${subject}.${exp}`;

/**
 * A token for `subject` in `context`, valid until `exp` (epoch seconds). The lifetime cap is the
 * verifier's: callers that take a duration from a person check it first (cli/link-ttl.ts).
 * @example await signLink(secret, "edgekv-override", "green", Math.floor(Date.now() / 1000) + 3600) // "green.1795000000.Xy..."
 */
export async function signLink(secret: string, context: LinkContext, subject: string, exp: number): Promise<string> {
  if (!SUBJECT.test(subject)) throw new RangeError("a signed link's subject is 1 to 64 of A-Z a-z 0-9 _ -");
  if (!Number.isSafeInteger(exp) || exp <= 0 || exp > 999_999_999_999) throw new RangeError("the expiry must be a positive whole number of seconds");
  return `${subject}.${exp}.${await hmacSha256(secret, signed(context, subject, exp))}`;
}

/**
 * The subject of `token` when it is well formed, signed with `secret` for `context`, unexpired
 * at `nowMs` and not valid for longer than the cap; null otherwise (compared in constant time).
 * @example await verifyLink(secret, "edgekv-preview", token, Date.now()) // "20261202T051200Z-1a2b3c4d" | null
 */
export async function verifyLink(secret: string | undefined, context: LinkContext, token: string, nowMs: number): Promise<string | null> {
  if (!secret || token.length > MAX_LINK_CHARS) return null;
  const m = TOKEN.exec(token);
  if (!m) return null;
  const [, subject, expText, sig] = m as unknown as [string, string, string, string];
  const exp = Number(expText);
  const now = nowMs / 1000;
  // Written so that a NaN clock refuses too.
  if (!(exp > now && exp <= now + MAX_LINK_SECONDS + CLOCK_SKEW_SECONDS)) return null;
  return (await verifyHmacSha256(secret, signed(context, subject, exp), sig)) ? subject : null;
}
