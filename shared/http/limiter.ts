/**
 * Failed-attempt limiting shared by the auth gate (bad tokens, admin secret)
 * and the splitter (status secret): who a client is (`clientKey`) and how
 * many failures it may have (`FailureLimiter`, over a Workers Rate Limiting
 * binding). Callers check `retryAfter` BEFORE looking at a credential and
 * call `fail` only after a failure, so a locked-out client stays locked out
 * even when it then sends the right secret. docs/auth.md "Rate limiting".
 */
import { sha256Hex } from "../crypto.ts";
import { HttpError } from "./errors.ts";

/** Bound on remembered locked-out keys per map; the oldest are forgotten first. */
export const MAX_BLOCKED_KEYS = 1_000;
/**
 * Failures without CF-Connecting-IP that one isolate counts per window, over
 * all credential fingerprints. Past it, such failures are answered 429 at
 * once (no limiter call, no new entry), so rotating credentials cannot flood
 * the binding or the isolate; a request with a good credential still passes.
 */
export const MAX_NO_IP_FAILURES_PER_WINDOW = 200;
/** Longer than any IPv6 text form with a zone id; longer values are junk. */
export const MAX_IP_HEADER_LENGTH = 64;
/** Hex characters of the credential fingerprint that keys a request without an IP (128 bits). */
const FINGERPRINT_HEX = 32;

/** The one key of every malformed CF-Connecting-IP value, so junk never makes fresh buckets. */
export const BAD_IP_KEY = "ip:invalid";
/** Prefix of the keys of requests without CF-Connecting-IP (keyed by what they presented). */
export const NO_IP_PREFIX = "noip:";

// Dotted-quad IPv4, no leading zeros (some parsers read them as octal).
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
// Only these may reach the URL parser below, so nothing but its IPv6 parser can accept the value.
const IPV6_CHARS = /^[\da-f:.]+$/i;

/**
 * The limiter key of a CF-Connecting-IP value: `ip4:a.b.c.d`, or the /64 of
 * an IPv6 address as `ip6:h:h:h:h` (one subscriber usually holds a whole
 * /64, so rotating within it gains nothing). IPv4-mapped `::ffff:a.b.c.d`
 * is the IPv4 address. Brackets and a zone id (`%eth0`) are stripped. Any
 * malformed value is BAD_IP_KEY: one shared bucket, so varying junk gains
 * nothing (Cloudflare never sends junk; only a misbehaving caller can).
 * IPv6 is parsed and canonicalised by the WHATWG URL host parser (smaller
 * than a hand-written parser, and the one the property tests compare with).
 * @example ipKey("2001:db8:1:2:aaaa::1") // "ip6:2001:db8:1:2"; ipKey("::ffff:192.0.2.1") // "ip4:192.0.2.1"; ipKey("x") // "ip:invalid"
 */
export function ipKey(value: string): string {
  let s = value.trim();
  if (s.length === 0 || s.length > MAX_IP_HEADER_LENGTH) return BAD_IP_KEY;
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  if (IPV4.test(s)) return `ip4:${s}`;
  const zone = s.indexOf("%");
  if (zone > 0) s = s.slice(0, zone);
  if (!IPV6_CHARS.test(s)) return BAD_IP_KEY;
  let halves: string[];
  try {
    // Canonical form: lowercase hextets without leading zeros, the longest zero run as "::", no dotted tail.
    halves = new URL(`http://[${s}]`).hostname.slice(1, -1).split("::");
  } catch {
    return BAD_IP_KEY;
  }
  const groups = (h = "") => (h ? h.split(":") : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const h = [...head, ...Array<string>(8 - head.length - tail.length).fill("0"), ...tail];
  // ::ffff:0:0/96 (IPv4-mapped) is the IPv4 client itself.
  if (`${h.slice(0, 6)}` === "0,0,0,0,0,ffff") {
    const n = parseInt(h[6]! + h[7]!.padStart(4, "0"), 16);
    return `ip4:${n >>> 24}.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  }
  return `ip6:${h.slice(0, 4).join(":")}`;
}

/**
 * Who a failed attempt is charged to. With CF-Connecting-IP (set by Cloudflare
 * on every request from the internet; a caller Worker on a service binding
 * should pass its own client's address in it): `ipKey` of it. Without it
 * (service bindings, internal calls): a fingerprint of the credential the
 * request presented (`presented`, else its Authorization header), so one
 * caller hammering one bad credential is limited but nobody else behind that
 * caller is locked out. Nothing of the credential itself is kept.
 * @example await clientKey(request) // "ip4:203.0.113.7" | "ip6:2001:db8:0:1" | "ip:invalid" | "noip:3f2a..."
 */
export async function clientKey(request: Request, presented?: string): Promise<string> {
  const ip = request.headers.get("cf-connecting-ip");
  if (ip !== null) return ipKey(ip);
  const credential = presented ?? request.headers.get("authorization") ?? "";
  return NO_IP_PREFIX + (await sha256Hex(`edgekv-limiter:${credential}`)).slice(0, FINGERPRINT_HEX);
}

/**
 * What FailureLimiter needs of a Workers Rate Limiting binding (`RateLimit`
 * in workers-types), spelled out so this file also type-checks under Node.
 */
export interface RateLimitBinding {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

/** The clock and window of one limiter; `periodSeconds` must equal the binding's `simple.period`. */
export interface FailureLimiterOptions {
  periodSeconds: number;
  now: () => number;
}

/**
 * Failed attempts per client key, counted by the Workers Rate Limiting
 * binding. Once a key is over the limit, this isolate also remembers it until
 * the window ends, so its further attempts are refused before any secret or
 * token is looked at, at no KV read and no limiter call.
 */
export class FailureLimiter {
  readonly #binding: RateLimitBinding;
  readonly #periodMs: number;
  readonly #now: () => number;
  // Two maps, so credential churn without an IP can never evict a locked-out IP.
  readonly #blocked = new Map<string, number>();
  readonly #blockedNoIp = new Map<string, number>();
  #noIpWindowStart = -Infinity;
  #noIpFailures = 0;

  constructor(binding: RateLimitBinding, options: FailureLimiterOptions) {
    this.#binding = binding;
    this.#periodMs = options.periodSeconds * 1000;
    this.#now = options.now;
  }

  get periodSeconds(): number {
    return this.#periodMs / 1000;
  }

  #map(key: string): Map<string, number> {
    return key.startsWith(NO_IP_PREFIX) ? this.#blockedNoIp : this.#blocked;
  }

  /** Seconds until `key` may try again, or 0. Call before comparing anything secret. */
  retryAfter(key: string): number {
    const map = this.#map(key);
    const until = map.get(key);
    if (until === undefined) return 0;
    const left = Math.ceil((until - this.#now()) / 1000);
    if (left > 0) return left;
    map.delete(key);
    return 0;
  }

  /**
   * Counts one failure; returns seconds to wait when `key` is now over the limit, else 0.
   * A limiter that throws is ignored: the failure is refused anyway (never an allow).
   */
  async fail(key: string): Promise<number> {
    const map = this.#map(key);
    if (map === this.#blockedNoIp) {
      const now = this.#now();
      if (now - this.#noIpWindowStart >= this.#periodMs) {
        this.#noIpWindowStart = now;
        this.#noIpFailures = 0;
      }
      if (++this.#noIpFailures > MAX_NO_IP_FAILURES_PER_WINDOW) return Math.max(1, Math.ceil((this.#noIpWindowStart + this.#periodMs - now) / 1000));
    }
    let over = false;
    try {
      over = !(await this.#binding.limit({ key })).success;
    } catch {
      return 0;
    }
    if (!over) return 0;
    map.delete(key);
    map.set(key, this.#now() + this.#periodMs);
    if (map.size > MAX_BLOCKED_KEYS) map.delete(map.keys().next().value as string);
    return this.periodSeconds;
  }
}

/**
 * The one 429 every Worker answers to a locked-out client (`headers` adds, e.g., the gate's challenge).
 * @example throw tooManyFailures(limiter.retryAfter(key));
 */
export function tooManyFailures(waitSeconds: number, headers: Record<string, string> = {}): HttpError {
  return new HttpError(429, "rate_limited", "too many failed attempts, retry later", { ...headers, "Retry-After": String(waitSeconds) });
}
