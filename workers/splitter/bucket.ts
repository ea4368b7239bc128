/**
 * Deterministic bucketing: hash(salt + ":" + sticky id) into 10,000 buckets.
 * The non-live colour owns buckets [0, percent * 100): raising the percentage
 * only adds buckets (nobody moves back), lowering removes the highest first.
 */
export const BUCKETS = 10_000;

/**
 * 32-bit FNV-1a over UTF-16 code units, then murmur3's fmix32 finaliser so the
 * low bits (which `% 10000` reads) are well mixed. Sync and allocation-free: a
 * few hundred ns per request, where crypto.subtle would cost a promise.
 * @example hash32("abc") // 0..2^32-1
 */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The bucket (0..9999) of a sticky id under a salt.
 * @example bucketOf("edgekv", "user-42") // e.g. 4821
 */
export function bucketOf(salt: string, id: string): number {
  return hash32(`${salt}:${id}`) % BUCKETS;
}

/**
 * True when `bucket` goes to the non-live colour at `percent` (0..100, two decimals).
 * @example inCanary(999, 10) // true: buckets 0..999 are the first 10%
 */
export function inCanary(bucket: number, percent: number): boolean {
  return bucket < Math.round(percent * 100);
}
