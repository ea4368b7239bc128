/**
 * Workers KV limits, checked before every call that would break them.
 * Source: Cloudflare's KV limits page and the workers-types typings (Nov 2026).
 */
/** A key is 1..512 bytes of UTF-8. */
export const KEY_MAX_BYTES = 512;
/** `cacheTtl` is at least 30 seconds. */
export const MIN_CACHE_TTL_SECONDS = 30;

// The read path imports the two constants above, not this object, so a data-plane bundle holds only them.
export const KV_LIMITS = {
  /** A key is 1..512 bytes of UTF-8. */
  keyMaxBytes: KEY_MAX_BYTES,
  /** A value is at most 25 MiB. */
  valueMaxBytes: 25 * 1024 * 1024,
  /** Metadata is at most 1024 bytes of serialized JSON. */
  metadataMaxBytes: 1024,
  /** `expirationTtl` is at least 60 seconds. */
  minExpirationTtlSeconds: 60,
  /** `expiration` is at least 60 seconds in the future. */
  minExpirationAheadSeconds: 60,
  /** `cacheTtl` is at least 30 seconds. */
  minCacheTtlSeconds: MIN_CACHE_TTL_SECONDS,
  /** A bulk get takes at most 100 keys. */
  bulkGetMaxKeys: 100,
  /** A list page holds at most 1000 keys. */
  listMaxLimit: 1000,
} as const;

/** Default backoff for writes refused with 429 (one write per second per key). */
export const WRITE_RETRY_DEFAULTS = {
  /** Total attempts, the first included. */
  attempts: 5,
  /** First backoff; doubles each retry, with full jitter. */
  baseDelayMs: 250,
  /** No single wait is longer than this. */
  maxDelayMs: 4_000,
} as const;
