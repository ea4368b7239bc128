/**
 * The token format, shared by the gate and the CLI:
 *
 *   ekv_ + 24 random base62 characters (~142 bits from the CSPRNG) + 6 base62 characters of CRC32
 *
 * The prefix lets secret scanners find leaked tokens; the checksum lets the gate
 * reject a typo or a random guess offline, before any KV read. Only the SHA-256
 * of a token is ever stored.
 */
import { sha256Hex } from "../../shared/crypto.ts";

export const TOKEN_PREFIX = "ekv_";
/** Random base62 characters: 24 * log2(62) = 142.9 bits, above the 128 the issue asks for. */
export const TOKEN_RANDOM_CHARS = 24;
export const TOKEN_CHECKSUM_CHARS = 6;
export const TOKEN_LENGTH = TOKEN_PREFIX.length + TOKEN_RANDOM_CHARS + TOKEN_CHECKSUM_CHARS;
/** Hex characters of the hash shown as a token's id (never enough to find the token). */
export const TOKEN_ID_CHARS = 12;

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const TOKEN_SHAPE = new RegExp(`^${TOKEN_PREFIX}[0-9A-Za-z]{${TOKEN_RANDOM_CHARS + TOKEN_CHECKSUM_CHARS}}$`);

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE) of an ASCII string, as GitHub's token checksum uses. */
export function crc32(s: string): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < s.length; i++) crc = (crcTable[(crc ^ s.charCodeAt(i)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function checksum(body: string): string {
  let n = crc32(body);
  let out = "";
  for (let i = 0; i < TOKEN_CHECKSUM_CHARS; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

/**
 * A new token from `crypto.getRandomValues` (rejection sampling, so every base62 character is uniform).
 * @example generateToken() // "ekv_3fJ9...Q2x0aB"
 */
export function generateToken(): string {
  let body = "";
  while (body.length < TOKEN_RANDOM_CHARS) {
    for (const b of crypto.getRandomValues(new Uint8Array(32))) {
      // 248 = 4 * 62: bytes above it would bias the first characters.
      if (b < 248 && body.length < TOKEN_RANDOM_CHARS) body += BASE62[b % 62];
    }
  }
  const head = TOKEN_PREFIX + body;
  return head + checksum(head);
}

/**
 * True when `s` has the token's shape and a correct checksum. Pure and offline:
 * the gate calls it before touching KV.
 * @example isWellFormedToken("ekv_nope") // false
 */
export function isWellFormedToken(s: string): boolean {
  if (s.length !== TOKEN_LENGTH || !TOKEN_SHAPE.test(s)) return false;
  const head = s.slice(0, TOKEN_LENGTH - TOKEN_CHECKSUM_CHARS);
  return checksum(head) === s.slice(TOKEN_LENGTH - TOKEN_CHECKSUM_CHARS);
}

/**
 * The SHA-256 (hex) that names a token in KV, and its short id.
 * @example const { hash, id } = await hashToken(token); // key "tok/" + hash
 */
export async function hashToken(token: string): Promise<{ hash: string; id: string }> {
  const hash = await sha256Hex(token);
  return { hash, id: hash.slice(0, TOKEN_ID_CHARS) };
}
