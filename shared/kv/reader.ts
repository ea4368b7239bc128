/**
 * The read half of the store (`KvReader`): validated reads, the isolate cache,
 * accounting, and the key checks reads need. No write path lives here, so a
 * Worker that imports only this (through shared/kv/read.ts) cannot write.
 */
import type { KvBinding, KvValueWithMetadata } from "./binding.ts";
import { IsolateCache, type CacheEntry } from "./cache.ts";
import type { Codec } from "./codec.ts";
import { EdgeKvError, KvLimitError, KvUnavailableError, KvValidationError } from "./errors.ts";
import { KEY_MAX_BYTES, MIN_CACHE_TTL_SECONDS } from "./limits.ts";
import type { KvOps } from "./ops.ts";
import { validate, type Schema } from "./schema.ts";

// Pure: a bundle that never encodes (the splitter never sizes a key) drops it.
const encoder = /* @__PURE__ */ new TextEncoder();

/** Default `errorRetryMs`: how long a failed read stands (a stale value, or the error) before KV is tried again. */
export const DEFAULT_ERROR_RETRY_MS = 1_000;

/**
 * UTF-8 size of `s` as far as a limit of `max` bytes cares: exact when it could
 * exceed `max`, otherwise a cheap lower bound (each UTF-16 unit is 1..3 bytes).
 */
export function sizeForLimit(s: string, max: number): number {
  return s.length * 3 <= max ? s.length : encoder.encode(s).byteLength;
}

/** Opt-in read-through cache held in the isolate. */
export interface StoreCacheOptions<V, M> {
  /** How long a read stays fresh, in ms; a function can cap it per value (e.g. at a token's expiry). */
  ttlMs: number | ((value: V, metadata: M | null) => number);
  /** How long a missing key (null) stays fresh, in ms. Defaults to `ttlMs` when that is a number, else 0 (not cached). */
  negativeTtlMs?: number;
  /** Bound on entries; least recently used go first. */
  maxEntries: number;
  /**
   * When KV fails (or returns a value that fails validation) and an expired entry is held, serve it and report it stale.
   * With nothing held, the read throws, and throws the same error again without a KV read for `errorRetryMs`.
   */
  staleOnError?: boolean;
  /**
   * After a failed read, how long (ms) the stale entry is served (or, with
   * nothing held, the error thrown again) before KV is tried again, so a
   * broken KV or a bad value costs one read per interval, not one per request.
   * Only with `staleOnError`. Default 1000.
   */
  errorRetryMs?: number;
  /**
   * With `staleOnError`: a key read as missing while a value is held counts as
   * a failed read (an `EdgeKvError` with code "missing"), so the last value is
   * kept. For a document that must always exist, where a deletion is a mistake.
   */
  keepOnMissing?: boolean;
  /**
   * Stale-while-revalidate: for this long (ms) after an entry expires, a read
   * that passes `waitUntil` gets the expired entry at once (a cache hit) while
   * one background read per key refreshes it through `waitUntil`. Off unless given.
   */
  staleWhileRevalidateMs?: number;
}

export interface RetryOptions {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface StoreOptions<V, M, K extends Codec<V>["kind"]> extends ReaderOptions<V, M, K> {
  /** Backoff for writes refused with 429. */
  retry?: Partial<RetryOptions>;
  /** Wait used between retries (injectable for tests). */
  sleep?: (ms: number) => Promise<void>;
  /** Source of jitter in [0, 1). */
  random?: () => number;
}

export interface ReadOptions {
  ops?: KvOps;
  /** KV edge cache TTL in seconds for this read (>= 30). */
  cacheTtl?: number;
  /** Skip the isolate cache (still refreshes it). */
  fresh?: boolean;
  /** Lets a read refresh an expired entry in the background (see `staleWhileRevalidateMs`), e.g. `(p) => ctx.waitUntil(p)`. */
  waitUntil?: (promise: Promise<unknown>) => void;
}

export interface WriteOptions<M> {
  ops?: KvOps;
  /** Seconds from now after which KV deletes the key (>= 60). */
  expirationTtl?: number;
  /** Epoch seconds at which KV deletes the key (>= now + 60). */
  expiration?: number;
  metadata?: M;
  /** Declared byte length of a stream value, checked before the call. */
  size?: number;
}

export interface ReadResult<V, M> {
  value: V | null;
  metadata: M | null;
  /** True when the value came from the isolate cache. */
  cached: boolean;
  /** True when KV failed and an expired cached entry was served instead; `error` says why. */
  stale: boolean;
  error?: EdgeKvError;
}

/** One key as a bulk write sends it: full key (prefix included), encoded value, and what `put` would pass. */
export interface KvPair {
  key: string;
  value: string | Uint8Array;
  metadata?: unknown;
  expiration?: number;
  expirationTtl?: number;
}

export interface ListedKey<M> {
  /** The key without the store's prefix. */
  name: string;
  /** Epoch seconds, when the key expires. */
  expiration: number | undefined;
  metadata: M | null;
}

export interface ListPage<M> {
  keys: ListedKey<M>[];
  /** Cursor to resume after this page; null on the last page. */
  cursor: string | null;
}

export interface ListOptions {
  /** Further prefix inside the store's prefix. */
  prefix?: string;
  /** Keys per page, 1..1000. */
  limit?: number;
  /** Resume from a cursor returned earlier. */
  cursor?: string | null;
  ops?: KvOps;
}

/** Options of the core reader (`KvCoreReader`): no metadata schema, no stale-while-revalidate. */
export interface CoreReaderOptions<V, M, K extends Codec<V>["kind"]> {
  /** Prepended to every key; `list` strips it again. */
  prefix?: string;
  codec: Codec<V> & { kind: K };
  /** Default KV edge `cacheTtl` for reads, in seconds (>= 30). */
  cacheTtl?: number;
  /** Isolate cache; off unless given. Only for json and text stores. */
  cache?: Omit<StoreCacheOptions<V, M>, "staleWhileRevalidateMs">;
  /** Clock in epoch ms (injectable for tests). */
  now?: () => number;
}

/** Options of a read-only view (`KvReader`). */
export interface ReaderOptions<V, M, K extends Codec<V>["kind"]> extends CoreReaderOptions<V, M, K> {
  /** Schema for the metadata stored next to each value. */
  metadata?: Schema<M>;
  /** Isolate cache; off unless given. Only for json and text stores. */
  cache?: StoreCacheOptions<V, M>;
}

/**
 * The core of every reader: validated reads, the isolate cache with
 * stale-on-error (`keepOnMissing`, `errorRetryMs`), and accounting. No
 * metadata (reported as null), no stale-while-revalidate, and no key or
 * cacheTtl checks: its keys and options must be constants in code (the
 * splitter's one config key). `KvReader` adds all three, and `get`; anything
 * that reads a key made from a request uses it (or the store).
 *
 * @example
 * const configs = new KvCoreReader(env.ROLLOUT_KV, { prefix: "rollout/", codec: json(Rollout),
 *   cache: { ttlMs: 5_000, maxEntries: 4, staleOnError: true } });
 * const { value, stale, error } = await configs.getWithMetadata("config", { ops });
 */
export class KvCoreReader<V, M = unknown, K extends Codec<V>["kind"] = Codec<V>["kind"]> {
  readonly binding: KvBinding;
  readonly prefix: string;
  readonly codec: Codec<V> & { kind: K };
  protected readonly _cacheTtl: number | undefined;
  // `#` names: the bundler shortens them; `_` ones are for the subclasses (reader, writer, store).
  readonly #cacheOptions: CoreReaderOptions<V, M, K>["cache"];
  protected readonly _cache: IsolateCache<V, M> | undefined;
  protected readonly _now: () => number;

  constructor(binding: KvBinding, options: CoreReaderOptions<V, M, K>) {
    this.binding = binding;
    this.prefix = options.prefix ?? "";
    this.codec = options.codec;
    this._cacheTtl = options.cacheTtl;
    if (options.cache) {
      // A raw codec (bytes, stream) refuses it: held in codec.ts, so json/text-only bundles carry no such check.
      if ("raw" in this.codec) this.codec.raw.refuseCache();
      this.#cacheOptions = options.cache;
      this._cache = new IsolateCache(options.cache.maxEntries);
    }
    this._now = options.now ?? Date.now;
  }

  /**
   * The full KV key for `key` (prefix added). The core trusts its keys and
   * options (the splitter's are constants); `KvReader` checks KV's limits.
   * @example store.keyFor("a") // "rollout:a"
   */
  keyFor(key: string): string {
    return this.prefix + key;
  }

  /**
   * Reads a value with its metadata and where it came from (isolate cache, KV, or stale).
   * @example const { value, metadata, stale, error } = await store.getWithMetadata("current");
   */
  async getWithMetadata(key: string, options: ReadOptions = {}): Promise<ReadResult<V, M>> {
    const full = this.keyFor(key);
    const cacheTtl = options.cacheTtl ?? this._cacheTtl;
    const ops = options.ops;
    const cache = this._cache;
    let held: CacheEntry<V, M> | undefined;
    if (cache) {
      held = cache.get(full);
      if (held && !options.fresh) {
        const now = this._now();
        const error = held.error;
        // Fresh, or (KvReader) expired but within the stale-while-revalidate window: answered from the isolate.
        if (held.freshUntil > now || this._revalidate?.(key, full, held, now, options)) {
          // A failed read stands for errorRetryMs: the value held (stale), or with none, the error again.
          if (held.empty) throw error;
          if (ops) ops[error ? "staleHits" : "cacheHits"]++;
          return { value: held.value, metadata: held.metadata, cached: true, stale: !!error, error };
        }
      }
    }
    try {
      const codec: Codec<V> = this.codec;
      const type = "raw" in codec ? codec.raw.type : "text";
      const raw = await timed(ops, "reads", () =>
        // One call for every codec: the binding's overloads are per literal type.
        (this.binding.getWithMetadata as (k: string, o: object) => Promise<KvValueWithMetadata<string | ArrayBuffer | ReadableStream>>)(
          full,
          cacheTtl === undefined ? { type } : { type, cacheTtl },
        ),
      ).catch((err: unknown) => {
        throw new KvUnavailableError("get", full, err);
      });
      const value = raw.value === null ? null : await decodeValue(this.codec, full, raw.value);
      const metadata = (await this._metadata?.(full, raw.metadata)) ?? null;
      if (value === null && held?.value != null && this.#cacheOptions!.keepOnMissing) throw new EdgeKvError("missing", `${full} is missing`);
      if (cache) this._remember(full, value, metadata);
      return { value, metadata, cached: false, stale: false };
    } catch (err) {
      const opts = this.#cacheOptions;
      if (opts?.staleOnError && err instanceof EdgeKvError) {
        // Nothing to serve (`empty`): the error itself is remembered, so a broken KV is not read once per request.
        const empty = !held || held.empty;
        cache!.set(full, { value: null, metadata: null, ...held, freshUntil: this._now() + (opts.errorRetryMs ?? DEFAULT_ERROR_RETRY_MS), error: err, empty });
        if (!empty) {
          if (ops) ops.staleHits++;
          return { value: held!.value, metadata: held!.metadata, cached: true, stale: true, error: err };
        }
      }
      throw err;
    }
  }

  // ---------------------------------------------------------------- internals

  // Hooks KvReader implements; declared only, so the core bundles no stub.
  /** True when an expired `held` may answer while a background read refreshes it (stale-while-revalidate). */
  protected _revalidate?(key: string, full: string, held: CacheEntry<V, M>, now: number, options: ReadOptions): boolean;
  /** The metadata read, validated; without this hook the core reports none. */
  protected _metadata?(full: string, raw: unknown): Promise<M | null>;

  /** Holds what was read or written for its TTL (callers hold a cache). */
  protected _remember(full: string, value: V | null, metadata: M | null): void {
    const opts = this.#cacheOptions!;
    const ttl = opts.ttlMs;
    const ms = value === null ? (opts.negativeTtlMs ?? (typeof ttl === "number" ? ttl : 0)) : typeof ttl === "number" ? ttl : ttl(value, metadata);
    if (ms > 0) this._cache!.set(full, { value, metadata, freshUntil: this._now() + ms });
    else this._cache!.delete(full);
  }
}

/**
 * The read half of `KvStore`: the core (`KvCoreReader`) plus metadata
 * validation, stale-while-revalidate, `get` and `clearCache`. A Worker that
 * only reads on its hot path uses this, so writes, retries, bulk get and
 * listing stay out of its bundle.
 *
 * @example
 * const configs = new KvReader(env.ROLLOUT_KV, { prefix: "rollout/", codec: json(Rollout),
 *   cache: { ttlMs: 5_000, maxEntries: 4, staleOnError: true } });
 * const { value, stale, error } = await configs.getWithMetadata("config", { ops });
 */
export class KvReader<V, M = unknown, K extends Codec<V>["kind"] = Codec<V>["kind"]> extends KvCoreReader<V, M, K> {
  protected readonly _metadataSchema: Schema<M> | undefined;
  readonly #swr: number | undefined;
  /** Keys with a background refresh in flight (stale-while-revalidate). */
  readonly #refreshing = new Set<string>();

  constructor(binding: KvBinding, options: ReaderOptions<V, M, K>) {
    super(binding, options);
    checkCacheTtl(options.cacheTtl);
    this._metadataSchema = options.metadata;
    this.#swr = options.cache?.staleWhileRevalidateMs;
  }

  /**
   * The full KV key for `key` (prefix added), after checking KV's key limits.
   * @example store.keyFor("a") // "rollout:a"
   */
  override keyFor(key: string): string {
    const full = super.keyFor(key);
    checkKey(full);
    return full;
  }

  override async getWithMetadata(key: string, options: ReadOptions = {}): Promise<ReadResult<V, M>> {
    checkCacheTtl(options.cacheTtl);
    return super.getWithMetadata(key, options);
  }

  /**
   * Reads and validates one value; null when the key is missing.
   * @example const page = await store.get("index.html", { ops });
   */
  async get(key: string, options: ReadOptions = {}): Promise<V | null> {
    return (await this.getWithMetadata(key, options)).value;
  }

  /** Forget everything this isolate holds for the store (tests, admin endpoints). */
  clearCache(): void {
    this._cache?.clear();
  }

  protected override _revalidate(key: string, full: string, held: CacheEntry<V, M>, now: number, options: ReadOptions): boolean {
    const swr = this.#swr;
    const waitUntil = options.waitUntil;
    if (!waitUntil || !swr || held.error || held.freshUntil + swr <= now) return false;
    if (!this.#refreshing.has(full)) {
      this.#refreshing.add(full);
      waitUntil(
        this.getWithMetadata(key, { fresh: true, cacheTtl: options.cacheTtl })
          .catch(() => undefined)
          .finally(() => this.#refreshing.delete(full)),
      );
    }
    return true;
  }

  protected override _metadata(full: string, raw: unknown): Promise<M | null> {
    return decodeMetadata(this._metadataSchema, full, raw, "read");
  }
}

// ------------------------------------------------------------------ shared with the writer and the store
// Plain functions, not methods: the bundler shortens their names.

/** Runs one KV call, counted and timed in `ops` when given. */
export async function timed<T>(ops: KvOps | undefined, counter: "reads" | "writes" | "deletes" | "lists", call: () => Promise<T>): Promise<T> {
  if (!ops) return call();
  ops[counter]++;
  const start = performance.now();
  try {
    return await call();
  } finally {
    ops.kvMs += performance.now() - start;
  }
}

/** A value as KV returned it, decoded (and validated) by `codec`. */
export async function decodeValue<V>(codec: Codec<V>, key: string, raw: string | ArrayBuffer | ReadableStream): Promise<V> {
  if ("raw" in codec) return codec.raw.decode(raw as ArrayBuffer | ReadableStream);
  let value: unknown = raw;
  if (codec.kind === "json") {
    try {
      value = JSON.parse(raw as string);
    } catch (err) {
      throw new KvValidationError(key, "read", "value", [{ message: `not valid JSON (${err instanceof Error ? err.message : String(err)})`, path: "" }]);
    }
  }
  return codec.schema ? validate(codec.schema, value, { key, phase: "read", target: "value" }) : (value as V);
}

/** Metadata read or about to be written, validated by `schema` when there is one. */
export async function decodeMetadata<M>(schema: Schema<M> | undefined, key: string, metadata: unknown, phase: "read" | "write"): Promise<M | null> {
  if (metadata === null || metadata === undefined) return null;
  if (!schema) return metadata as M;
  return validate(schema, metadata, { key, phase, target: "metadata" });
}

// ------------------------------------------------------------------ checks a read needs

/**
 * Throws `KvLimitError` unless `key` is a legal KV key (1..512 bytes, not `.` or `..`).
 * @example checkKey("a".repeat(513)) // throws KvLimitError { limit: "key-bytes", value: 513 }
 */
export function checkKey(key: string): void {
  if (key.length === 0) throw new KvLimitError("key-empty", key, "a key must be at least 1 byte", 1);
  if (key === "." || key === "..") throw new KvLimitError("key-dot", key, `"${key}" is not a legal key`);
  const bytes = sizeForLimit(key, KEY_MAX_BYTES);
  if (bytes > KEY_MAX_BYTES) {
    throw new KvLimitError("key-bytes", bytes, `key is ${bytes} bytes, more than ${KEY_MAX_BYTES}`, KEY_MAX_BYTES);
  }
}

/** Unset (undefined) passes. @example checkCacheTtl(10) // throws KvLimitError { limit: "cache-ttl", value: 10 } */
export function checkCacheTtl(ttl: number | undefined): void {
  const min = MIN_CACHE_TTL_SECONDS;
  if (ttl !== undefined && (!Number.isFinite(ttl) || ttl < min)) throw new KvLimitError("cache-ttl", ttl, `cacheTtl ${ttl} is less than ${min} seconds`, min);
}
