/**
 * Small Web Crypto helpers shared by the Workers and the CLI (both have
 * `crypto.subtle`; workerd also has `timingSafeEqual`, Node's subtle does not).
 */
const encoder = new TextEncoder();

function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data;
}

/**
 * Lowercase hex of bytes.
 * @example toHex(new Uint8Array([1, 255])) // "01ff"
 */
export function toHex(bytes: Uint8Array): string {
  // One flat string: `+=` leaves a rope of a node per byte, about 1.5 KB a sha256 held (100,000 of them in a deploy).
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * base64url without padding.
 * @example toBase64Url(new Uint8Array([251, 255])) // "-_8"
 */
export function toBase64Url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Decodes base64url (padding optional); null when malformed.
 * @example fromBase64Url("-_8") // Uint8Array [251, 255]; fromBase64Url("a+b") // null
 */
export function fromBase64Url(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) return null;
  try {
    const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

/**
 * SHA-256 as lowercase hex.
 * @example await sha256Hex("abc") // "ba7816bf..."
 */
export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", toBytes(data))));
}

// Spelled via typeof so the file type-checks under both Workers and Node types.
type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;
const keyCache = new Map<string, Promise<HmacKey>>();

function hmacKey(secret: string): Promise<HmacKey> {
  let key = keyCache.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    // Secrets are few (one per Worker); bound the map anyway.
    if (keyCache.size > 16) keyCache.clear();
    keyCache.set(secret, key);
  }
  return key;
}

/**
 * HMAC-SHA-256 of `message` under `secret`, as base64url.
 * @example const sig = await hmacSha256("s3cret", "green"); // "..."
 */
export async function hmacSha256(secret: string, message: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(message));
  return toBase64Url(new Uint8Array(mac));
}

/**
 * Compares two strings in constant time, length included: both sides are
 * hashed first, so the comparison always covers 32 bytes.
 * @example await timingSafeEqualStrings(provided, env.ADMIN_SECRET)
 */
export async function timingSafeEqualStrings(a: string, b: string): Promise<boolean> {
  const [ha, hb] = await Promise.all([crypto.subtle.digest("SHA-256", encoder.encode(a)), crypto.subtle.digest("SHA-256", encoder.encode(b))]);
  const subtle = crypto.subtle as typeof crypto.subtle & { timingSafeEqual?: (x: ArrayBuffer, y: ArrayBuffer) => boolean };
  if (typeof subtle.timingSafeEqual === "function") return subtle.timingSafeEqual(ha, hb);
  const x = new Uint8Array(ha);
  const y = new Uint8Array(hb);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= (x[i] as number) ^ (y[i] as number);
  return diff === 0;
}

/**
 * Checks an HMAC-SHA-256 signature in constant time.
 * @example if (await verifyHmacSha256(env.OVERRIDE_SECRET, "green", sig)) color = "green";
 */
export async function verifyHmacSha256(secret: string, message: string, signature: string): Promise<boolean> {
  return timingSafeEqualStrings(await hmacSha256(secret, message), signature);
}
