/**
 * Reads the live pointer, version indexes, manifest shards and blobs through
 * the library's `KvReader`, every value validated by its one schema in
 * model.ts. The isolate cache does the work once warm: indexes and shards are
 * immutable (kept until evicted), the pointer is refreshed in the background
 * (stale-while-revalidate) and survives a failed read (stale-on-error).
 */
import { KvReader } from "../../shared/kv/read.ts";
import { json, stream } from "../../shared/kv/codec.ts";
import type { KvBinding } from "../../shared/kv/binding.ts";
import type { KvOps } from "../../shared/kv/ops.ts";
import {
  IndexSchema,
  POINTER_KEY,
  PointerSchema,
  SITE_PREFIX,
  ShardSchema,
  indexKey,
  shardKeyFor,
  type Entry,
  type Pointer,
  type Shard,
  type SiteIndex,
} from "./model.ts";

/** A pointer read younger than this is used as is (POINTER_TTL_MS sets it, 0..POINTER_FRESH_MS; 0 reads every time). */
export const POINTER_FRESH_MS = 5_000;
/** Older than FRESH but younger than this: served while a background read refreshes it. */
export const POINTER_MAX_AGE_MS = 30_000;
/** Indexes and shards never change: cached until evicted, bounded by count. */
export const MAX_CACHED_SHARDS = 512;
export const MAX_CACHED_INDEXES = 16;
/** KV edge cache for immutable values; a missing blob is retried once with the minimum. */
export const IMMUTABLE_CACHE_TTL_S = 86_400;

/**
 * The pointer's isolate cache: fresh for `ttl`, then served while a background read refreshes
 * it, up to POINTER_MAX_AGE_MS. A `ttl` of 0 (local development: `npm start`) holds nothing
 * but the last good read for stale-on-error, so a deploy shows on the next request.
 */
function pointerCache(ttl: number) {
  return { ttlMs: ttl, staleWhileRevalidateMs: ttl > 0 ? POINTER_MAX_AGE_MS - ttl : 0, maxEntries: 1, staleOnError: true };
}

/** Thrown when a version's index or shard is not (yet) visible here: the caller falls back to an older version. */
export class VersionNotReady extends Error {
  override name = "VersionNotReady";
}

async function immutable<T>(reader: KvReader<T, unknown, "json">, key: string, ops: KvOps): Promise<T> {
  const value = await reader.get(key, { ops });
  if (value === null) throw new VersionNotReady(`${key} not found`);
  return value;
}

/**
 * One per isolate (module scope), so its caches survive across requests.
 * @example const reader = new SiteReader(env.SITE_KV); const p = await reader.pointer(ops, (p) => ctx.waitUntil(p));
 */
export class SiteReader {
  readonly #pointer: KvReader<Pointer, unknown, "json">;
  readonly #index: KvReader<SiteIndex, unknown, "json">;
  readonly #shard: KvReader<Shard, unknown, "json">;
  readonly #blob: KvReader<ReadableStream, unknown, "stream">;

  constructor(kv: KvBinding, options: { now?: () => number; pointerTtlMs?: number } = {}) {
    const base = { prefix: SITE_PREFIX, now: options.now ?? Date.now };
    // A missing index or shard is not cached: it may be a deploy still propagating.
    const forever = { ttlMs: Infinity, negativeTtlMs: 0 };
    this.#pointer = new KvReader(kv, {
      ...base,
      codec: json(PointerSchema),
      cache: pointerCache(options.pointerTtlMs ?? POINTER_FRESH_MS),
    });
    this.#index = new KvReader(kv, { ...base, codec: json(IndexSchema), cache: { ...forever, maxEntries: MAX_CACHED_INDEXES } });
    this.#shard = new KvReader(kv, { ...base, codec: json(ShardSchema), cache: { ...forever, maxEntries: MAX_CACHED_SHARDS } });
    this.#blob = new KvReader(kv, { ...base, codec: stream() });
  }

  /**
   * The live pointer; null when no site was ever deployed. Older than POINTER_FRESH_MS, it is
   * served while `waitUntil` refreshes it; older than POINTER_MAX_AGE_MS (or without
   * `waitUntil`), it is read first. A failed read serves the last one held (stale-on-error).
   */
  pointer(ops: KvOps, waitUntil?: (p: Promise<unknown>) => void): Promise<Pointer | null> {
    return this.#pointer.get(POINTER_KEY, { ops, waitUntil });
  }

  /** A version's index; VersionNotReady when KV does not have it here (yet). */
  index(version: string, ops: KvOps): Promise<SiteIndex> {
    return immutable(this.#index, indexKey(version), ops);
  }

  /** The manifest entry of `path` in a version, or undefined: one shard read, shared by every version that lists it. */
  async entry(index: SiteIndex, path: string, ops: KvOps): Promise<Entry | undefined> {
    const shard = await immutable(this.#shard, shardKeyFor(index, path), ops);
    return Object.hasOwn(shard, path) ? shard[path] : undefined;
  }

  /** One part of a blob as a stream, or null when KV does not hold it. */
  async blob(key: string, ops: KvOps): Promise<ReadableStream | null> {
    // A miss may be a negative lookup cached before the deploy reached this location.
    return (await this.#blob.get(key, { ops, cacheTtl: IMMUTABLE_CACHE_TTL_S })) ?? this.#blob.get(key, { ops, cacheTtl: 30 });
  }
}
