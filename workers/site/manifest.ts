/**
 * Reads the live pointer, version indexes, manifest shards and blobs. The isolate
 * cache does the work once warm: indexes and shards are immutable (kept until
 * evicted), the pointer is refreshed in the background every few seconds.
 *
 * Why not KvStore here: KvStore with valibot is 6.4 KiB gzip on its own, over the
 * Worker's whole 6 KiB budget. This reader uses the library's IsolateCache, KvOps
 * and typed errors on the raw binding, and checks the shape of what it reads; the
 * full valibot schemas (model.ts) validate every value when `edgekv site` writes it.
 */
import { IsolateCache } from "../../shared/kv/cache.ts";
import { KvUnavailableError, KvValidationError } from "../../shared/kv/errors.ts";
import type { KvBinding } from "../../shared/kv/binding.ts";
import type { KvOps } from "../../shared/kv/ops.ts";
import { POINTER_KEY, SITE_PREFIX, indexKey, shardKey, shardOf, type Entry, type Pointer, type Shard, type SiteIndex } from "./model.ts";

/** A pointer read younger than this is used as is. */
export const POINTER_FRESH_MS = 5_000;
/** Older than FRESH but younger than this: served while a background read refreshes it. */
export const POINTER_MAX_AGE_MS = 30_000;
/** Indexes and shards never change: cached until evicted, bounded by count. */
export const MAX_CACHED_SHARDS = 512;
/** KV edge cache for immutable values; a missing blob is retried once with the minimum. */
export const IMMUTABLE_CACHE_TTL_S = 86_400;

/** Thrown when a version's index or shard is not (yet) visible here: the caller falls back to an older version. */
export class VersionNotReady extends Error {
  override name = "VersionNotReady";
}

type Check = (v: any) => boolean;
const isPointer: Check = (p) => p?.v === 1 && typeof p.live === "string" && Array.isArray(p.previous);
const isIndex: Check = (i) =>
  i?.v === 1 && typeof i.id === "string" && i.shards >= 1 && i.chunk >= 1 && [i.notFound, i.redirects, i.headers].every(Array.isArray);
const isShard: Check = (s) => typeof s === "object" && s !== null && !Array.isArray(s);
const isEntry: Check = (e) => typeof e?.h === "string" && typeof e.s === "number" && typeof e.t === "string";

function invalid(key: string): KvValidationError {
  return new KvValidationError(key, "read", "value", [{ message: "stored value does not have the expected shape", path: "" }]);
}

/**
 * One per isolate (module scope), so its caches survive across requests.
 * @example const reader = new SiteReader(env.SITE_KV); const p = await reader.pointer(ops, (p) => ctx.waitUntil(p));
 */
export class SiteReader {
  readonly kv: KvBinding;
  readonly #now: () => number;
  readonly #pointer = new IsolateCache<Pointer, null>(1);
  readonly #immutable = new IsolateCache<SiteIndex | Shard, null>(MAX_CACHED_SHARDS);
  #refreshing = false;

  constructor(kv: KvBinding, options: { now?: () => number } = {}) {
    this.kv = kv;
    this.#now = options.now ?? Date.now;
  }

  async #read<T>(key: string, ops: KvOps | undefined, cacheTtl?: number): Promise<T | null> {
    const full = SITE_PREFIX + key;
    if (ops) ops.reads++;
    const t = performance.now();
    try {
      const raw = await this.kv.get(full, cacheTtl ? { type: "text", cacheTtl } : { type: "text" });
      if (raw === null) return null;
      try {
        return JSON.parse(raw) as T;
      } catch {
        throw invalid(full);
      }
    } catch (err) {
      throw err instanceof KvValidationError ? err : new KvUnavailableError("get", full, err);
    } finally {
      if (ops) ops.kvMs += performance.now() - t;
    }
  }

  /**
   * The live pointer; null when no site was ever deployed. Older than POINTER_FRESH_MS, it is
   * served while `waitUntil` refreshes it; older than POINTER_MAX_AGE_MS (or without
   * `waitUntil`), it is read first. A failed read serves the last one held (stale-on-error).
   */
  async pointer(ops: KvOps, waitUntil?: (p: Promise<unknown>) => void): Promise<Pointer | null> {
    const held = this.#pointer.get(POINTER_KEY);
    const age = held ? this.#now() - held.freshUntil : Infinity;
    if (held && (age < POINTER_FRESH_MS || (waitUntil && age < POINTER_MAX_AGE_MS))) {
      ops.cacheHits++;
      if (age >= POINTER_FRESH_MS && !this.#refreshing) {
        this.#refreshing = true;
        waitUntil!(this.refreshPointer().catch(() => undefined).finally(() => (this.#refreshing = false)));
      }
      return held.value;
    }
    try {
      return await this.refreshPointer(ops);
    } catch (err) {
      if (!held) throw err;
      ops.staleHits++;
      return held.value;
    }
  }

  /** Reads the pointer from KV into the isolate cache. */
  async refreshPointer(ops?: KvOps): Promise<Pointer | null> {
    const p = await this.#read<Pointer>(POINTER_KEY, ops);
    if (p !== null && !isPointer(p)) throw invalid(SITE_PREFIX + POINTER_KEY);
    // freshUntil holds the read time here: the age decides fresh, refreshing or expired.
    this.#pointer.set(POINTER_KEY, { value: p, metadata: null, freshUntil: this.#now() });
    return p;
  }

  async #immutableValue<T extends SiteIndex | Shard>(key: string, ops: KvOps, check: Check): Promise<T> {
    const held = this.#immutable.get(key);
    if (held) {
      ops.cacheHits++;
      return held.value as T;
    }
    const value = await this.#read<T>(key, ops);
    if (value === null) throw new VersionNotReady(`${key} not found`);
    if (!check(value)) throw invalid(SITE_PREFIX + key);
    this.#immutable.set(key, { value, metadata: null, freshUntil: Infinity });
    return value;
  }

  /** A version's index; VersionNotReady when KV does not have it here (yet). */
  index(version: string, ops: KvOps): Promise<SiteIndex> {
    return this.#immutableValue(indexKey(version), ops, isIndex);
  }

  /** The manifest entry of `path` in a version, or undefined. */
  async entry(index: SiteIndex, path: string, ops: KvOps): Promise<Entry | undefined> {
    const key = shardKey(index.id, shardOf(path, index.shards));
    const shard = await this.#immutableValue<Shard>(key, ops, isShard);
    if (!Object.hasOwn(shard, path)) return undefined;
    if (!isEntry(shard[path])) throw invalid(SITE_PREFIX + key);
    return shard[path];
  }

  /** One part of a blob as a stream, or null when KV does not hold it. */
  async blob(key: string, ops: KvOps): Promise<ReadableStream | null> {
    const full = SITE_PREFIX + key;
    const get = async (cacheTtl: number) => {
      ops.reads++;
      const t = performance.now();
      try {
        return await this.kv.get(full, { type: "stream", cacheTtl });
      } catch (err) {
        throw new KvUnavailableError("get", full, err);
      } finally {
        ops.kvMs += performance.now() - t;
      }
    };
    // A miss may be a negative lookup cached before the deploy reached this location.
    return (await get(IMMUTABLE_CACHE_TTL_S)) ?? (await get(30));
  }
}
