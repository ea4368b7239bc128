/**
 * One rule for every Worker secret that turns something on (ADMIN_SECRET,
 * STATUS_SECRET, OVERRIDE_SECRET): unset means off, shorter than
 * MIN_SECRET_BYTES means off *and* a clear error, never a guessable secret
 * that silently works. Nothing here ever echoes a secret.
 */
import { HttpError } from "./errors.ts";

/** 256 bits: what `openssl rand -base64 32` gives (44 characters). */
export const MIN_SECRET_BYTES = 32;

export type SecretState = { kind: "off" } | { kind: "weak"; bytes: number } | { kind: "ok"; secret: string };

const encoder = new TextEncoder();
// Per isolate: one log line per weak secret, not one per request.
const logged = new Set<string>();

/**
 * How to make and store a strong secret, for error messages and docs.
 * @example generateHint("ADMIN_SECRET", "auth") // "openssl rand -base64 32 | npx wrangler secret put ADMIN_SECRET --env auth"
 */
export const generateHint = (name: string, wranglerEnv: string) => `openssl rand -base64 32 | npx wrangler secret put ${name} --env ${wranglerEnv}`;

/**
 * Classifies a secret's value (length in UTF-8 bytes). A weak one is logged once per isolate.
 * @example secretState("STATUS_SECRET", "splitter", env.STATUS_SECRET) // { kind: "ok", secret } | { kind: "weak", bytes: 5 } | { kind: "off" }
 */
export function secretState(name: string, wranglerEnv: string, value: string | undefined): SecretState {
  if (!value) return { kind: "off" };
  const bytes = encoder.encode(value).length;
  if (bytes >= MIN_SECRET_BYTES) return { kind: "ok", secret: value };
  if (!logged.has(name)) {
    logged.add(name);
    console.error(JSON.stringify({ level: "error", code: "weak_secret", message: `${weakMessage(name, wranglerEnv)} (it is ${bytes} bytes)` }));
  }
  return { kind: "weak", bytes };
}

function weakMessage(name: string, wranglerEnv: string): string {
  return `${name} is shorter than ${MIN_SECRET_BYTES} bytes, so what it protects stays off; generate one with: ${generateHint(name, wranglerEnv)}`;
}

/**
 * The 503 an endpoint answers while its secret is too short (the same for every Worker).
 * @example throw weakSecretError("ADMIN_SECRET", "auth");
 */
export function weakSecretError(name: string, wranglerEnv: string): HttpError {
  // secretState logged it once per isolate; not once more per request.
  return new HttpError(503, "weak_secret", weakMessage(name, wranglerEnv), {}, { logged: true });
}
