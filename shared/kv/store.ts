import type { KvBinding, KvPutOptions, KvValueWithMetadata } from "./binding.ts";
import { IsolateCache, type CacheEntry } from "./cache.ts";
import type { Codec } from "./codec.ts";
import { EdgeKvError, KvLimitError, KvRateLimitError, KvUnavailableError, KvUnsupportedError, KvValidationError } from "./errors.ts";
import { KV_LIMITS, WRITE_RETRY_DEFAULTS } from "./limits.ts";
import { listPages as listPagesOf } from "./list.ts";
import type { KvOps } from "./ops.ts";
import { validate, type Schema } from "./schema.ts";

const encoder = new TextEncoder();

/** Default `errorRetryMs`: how long a failed read stands (a stale value, or the error) before KV is tried again. */
export const DEFAULT_ERROR_RETRY_MS = 1_000;

/**
 * UTF-8 size of `s` as far as a limit of `max` bytes cares: exact when it could
 * exceed `max`, otherwise a cheap lower bound (each UTF-16 unit is 1..3 bytes).
 */
function sizeForLimit(s: string, max: number): number {
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

function isRateLimited(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /\b429\b|too many requests/i.test(msg);
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Options of a read-only view (`KvReader`). */
export interface ReaderOptions<V, M, K extends Codec<V>["kind"]> {
  /** Prepended to every key; `list` strips it again. */
  prefix?: string;
  codec: Codec<V> & { kind: K };
  /** Schema for the metadata stored next to each value. */
  metadata?: Schema<M>;
  /** Default KV edge `cacheTtl` for reads, in seconds (>= 30). */
  cacheTtl?: number;
  /** Isolate cache; off unless given. Only for json and text stores. */
  cache?: StoreCacheOptions<V, M>;
  /** Clock in epoch ms (injectable for tests). */
  now?: () => number;
}

/**
 * The read half of `KvStore`: validated reads, the isolate cache with
 * stale-on-error and stale-while-revalidate, and accounting. A Worker that
 * only reads on its hot path uses this, so writes, retries, bulk get and
 * listing stay out of its bundle.
 *
 * @example
 * const configs = new KvReader(env.ROLLOUT_KV, { prefix: "rollout/", codec: json(Rollout),
 *   cache: { ttlMs: 5_000, maxEntries: 4, staleOnError: true } });
 * const { value, stale, error } = await configs.getWithMetadata("config", { ops });
 */
export class KvReader<V, M = unknown, K extends Codec<V>["kind"] = Codec<V>["kind"]> {
  readonly binding: KvBinding;
  readonly prefix: string;
  readonly codec: Codec<V> & { kind: K };
  protected readonly _metadataSchema: Schema<M> | undefined;
  protected readonly _cacheTtl: number | undefined;
  protected readonly _cacheOptions: StoreCacheOptions<V, M> | undefined;
  protected readonly _cache: IsolateCache<V, M> | undefined;
  protected readonly _now: () => number;
  /** Keys with a background refresh in flight (stale-while-revalidate). */
  protected readonly _refreshing = new Set<string>();

  constructor(binding: KvBinding, options: ReaderOptions<V, M, K>) {
    this.binding = binding;
    this.prefix = options.prefix ?? "";
    this.codec = options.codec;
    this._metadataSchema = options.metadata;
    if (options.cacheTtl !== undefined) checkCacheTtl(options.cacheTtl);
    this._cacheTtl = options.cacheTtl;
    if (options.cache) {
      if (this.codec.kind !== "json" && this.codec.kind !== "text") {
        throw new KvUnsupportedError(`an isolate cache needs a json or text store, not ${this.codec.kind}`);
      }
      this._cacheOptions = options.cache;
      this._cache = new IsolateCache(options.cache.maxEntries);
    }
    this._now = options.now ?? Date.now;
  }

  /**
   * The full KV key for `key` (prefix added), after checking KV's key limits.
   * @example store.keyFor("a") // "rollout:a"
   */
  keyFor(key: string): string {
    const full = this.prefix + key;
    checkKey(full);
    return full;
  }

  /**
   * Reads and validates one value; null when the key is missing.
   * @example const page = await store.get("index.html", { ops });
   */
  async get(key: string, options: ReadOptions = {}): Promise<V | null> {
    return (await this.getWithMetadata(key, options)).value;
  }

  /**
   * Reads a value with its metadata and where it came from (isolate cache, KV, or stale).
   * @example const { value, metadata, stale, error } = await store.getWithMetadata("current");
   */
  async getWithMetadata(key: string, options: ReadOptions = {}): Promise<ReadResult<V, M>> {
    const full = this.keyFor(key);
    const cacheTtl = options.cacheTtl ?? this._cacheTtl;
    if (options.cacheTtl !== undefined) checkCacheTtl(options.cacheTtl);
    const ops = options.ops;
    const cache = this._cache;
    let held: CacheEntry<V, M> | undefined;
    if (cache) {
      held = cache.get(full);
      if (held && !options.fresh) {
        const now = this._now();
        const error = held.error;
        const fresh = held.freshUntil > now;
        const swr = this._cacheOptions!.staleWhileRevalidateMs;
        const waitUntil = options.waitUntil;
        // Fresh, or expired but within the stale-while-revalidate window of a good entry: answered from the isolate.
        if (fresh || (waitUntil && swr && !error && held.freshUntil + swr > now)) {
          // A failed read stands for errorRetryMs: the value held (stale), or with none, the error again.
          if (held.empty) throw error;
          if (!fresh && !this._refreshing.has(full)) {
            this._refreshing.add(full);
            waitUntil!(
              this.getWithMetadata(key, { fresh: true, cacheTtl: options.cacheTtl })
                .catch(() => undefined)
                .finally(() => this._refreshing.delete(full)),
            );
          }
          if (ops) ops[error ? "staleHits" : "cacheHits"]++;
          return { value: held.value, metadata: held.metadata, cached: true, stale: !!error, error };
        }
      }
    }
    try {
      const raw = await this._timed(ops, "reads", () => this._rawGet(full, cacheTtl)).catch((err: unknown) => {
        throw new KvUnavailableError("get", full, err);
      });
      const value = raw.value === null ? null : await this._decode(full, raw.value);
      const metadata = await this._decodeMetadata(full, raw.metadata, "read");
      if (value === null && held?.value != null && this._cacheOptions!.keepOnMissing) throw new EdgeKvError("missing", `${full} is missing`);
      if (cache) this._remember(full, value, metadata);
      return { value, metadata, cached: false, stale: false };
    } catch (err) {
      const opts = this._cacheOptions;
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

  /** Forget everything this isolate holds for the store (tests, admin endpoints). */
  clearCache(): void {
    this._cache?.clear();
  }

  // ---------------------------------------------------------------- internals

  protected _rawGet(full: string, cacheTtl: number | undefined): Promise<KvValueWithMetadata<string | ArrayBuffer | ReadableStream>> {
    const kind = this.codec.kind;
    const type = kind === "bytes" ? "arrayBuffer" : kind === "stream" ? "stream" : "text";
    // One call for every codec: the binding's overloads are per literal type.
    return (this.binding.getWithMetadata as (k: string, o: object) => Promise<KvValueWithMetadata<string | ArrayBuffer | ReadableStream>>)(
      full,
      cacheTtl === undefined ? { type } : { type, cacheTtl },
    );
  }

  /** The codec as a plain union, so `switch` narrows it. */
  protected get _codec(): Codec<V> {
    return this.codec;
  }

  protected async _decode(key: string, raw: string | ArrayBuffer | ReadableStream): Promise<V> {
    const codec = this._codec;
    switch (codec.kind) {
      case "json": {
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw as string);
        } catch (err) {
          throw new KvValidationError(key, "read", "value", [{ message: `not valid JSON (${err instanceof Error ? err.message : String(err)})`, path: "" }]);
        }
        return codec.schema ? validate(codec.schema, parsed, { key, phase: "read", target: "value" }) : (parsed as V);
      }
      case "text":
        return codec.schema ? validate(codec.schema, raw, { key, phase: "read", target: "value" }) : (raw as V);
      case "bytes":
        return new Uint8Array(raw as ArrayBuffer) as V;
      case "stream":
        return raw as V;
    }
  }

  protected async _decodeMetadata(key: string, metadata: unknown, phase: "read" | "write"): Promise<M | null> {
    if (metadata === null || metadata === undefined) return null;
    if (!this._metadataSchema) return metadata as M;
    return validate(this._metadataSchema, metadata, { key, phase, target: "metadata" });
  }

  protected _remember(full: string, value: V | null, metadata: M | null): void {
    const opts = this._cacheOptions;
    if (!opts || !this._cache) return;
    let ttl: number;
    if (value === null) ttl = opts.negativeTtlMs ?? (typeof opts.ttlMs === "number" ? opts.ttlMs : 0);
    else ttl = typeof opts.ttlMs === "number" ? opts.ttlMs : opts.ttlMs(value, metadata);
    if (!(ttl > 0)) {
      this._cache.delete(full);
      return;
    }
    this._cache.set(full, { value, metadata, freshUntil: this._now() + ttl });
  }

  protected async _timed<T>(ops: KvOps | undefined, counter: "reads" | "writes" | "deletes" | "lists", call: () => Promise<T>): Promise<T> {
    if (!ops) return call();
    ops[counter]++;
    const start = performance.now();
    try {
      return await call();
    } finally {
      ops.kvMs += performance.now() - start;
    }
  }
}

/**
 * The write half on top of `KvReader`: validated puts with every KV limit
 * checked before the call, 429 retries with jittered backoff, and deletes.
 * A Worker that writes but never lists or bulk-reads uses this, so listing and
 * bulk get stay out of its bundle; `KvStore` adds them.
 *
 * @example
 * const tokens = new KvWriter(env.TOKENS_KV, { prefix: "tok/", codec: json(TokenRecordSchema) });
 * await tokens.put(hash, record, { expirationTtl: 3600 });
 * await tokens.delete(hash);
 */
export class KvWriter<V, M = unknown, K extends Codec<V>["kind"] = Codec<V>["kind"]> extends KvReader<V, M, K> {
  readonly #retry: RetryOptions;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;

  constructor(binding: KvBinding, options: StoreOptions<V, M, K>) {
    super(binding, options);
    this.#retry = { ...WRITE_RETRY_DEFAULTS, ...options.retry };
    this.#sleep = options.sleep ?? defaultSleep;
    this.#random = options.random ?? Math.random;
  }

  /**
   * Validates and writes a value. Limits are checked first; 429s are retried with
   * jittered backoff, then raise `KvRateLimitError`.
   * @example await store.put("current", cfg, { expirationTtl: 3600, metadata: { by: "cli" } });
   */
  async put(key: string, value: V, options: WriteOptions<M> = {}): Promise<void> {
    const { full, encoded, putOptions } = await this._prepare(key, value, options);
    await this.#write(full, encoded, putOptions, options.ops);
    if (this._cache) {
      // Keep what we wrote, so this isolate reads its own write at once.
      const stored = this.codec.kind === "json" || this.codec.kind === "text" ? value : null;
      this._remember(full, stored, (putOptions.metadata as M | undefined) ?? null);
    }
  }

  /** Everything `put` checks and encodes, up to the KV call: the full key, the encoded value, the options. */
  protected async _prepare(key: string, value: V, options: WriteOptions<M>) {
    const full = this.keyFor(key);
    const putOptions: KvPutOptions = {};
    if (options.expirationTtl !== undefined) {
      checkExpirationTtl(options.expirationTtl);
      putOptions.expirationTtl = options.expirationTtl;
    }
    if (options.expiration !== undefined) {
      checkExpiration(options.expiration, this._now());
      putOptions.expiration = options.expiration;
    }
    if (options.metadata !== undefined) {
      const metadata = await this._decodeMetadata(full, options.metadata, "write");
      checkMetadataSize(metadata);
      putOptions.metadata = metadata;
    }
    return { full, encoded: await this.#encode(full, value, options.size), putOptions };
  }

  /**
   * Deletes a key (and forgets it in the isolate cache).
   * @example await store.delete("old-version");
   */
  async delete(key: string, options: { ops?: KvOps } = {}): Promise<void> {
    const full = this.keyFor(key);
    this._cache?.delete(full);
    await this._timed(options.ops, "deletes", () => this.binding.delete(full)).catch((err: unknown) => {
      throw new KvUnavailableError("delete", full, err);
    });
  }

  // ---------------------------------------------------------------- internals

  async #encode(key: string, value: V, declaredSize: number | undefined): Promise<string | ArrayBuffer | ArrayBufferView | LimitedStream> {
    const max = KV_LIMITS.valueMaxBytes;
    const codec = this._codec;
    switch (codec.kind) {
      case "json":
      case "text": {
        const checked = codec.schema ? await validate(codec.schema, value, { key, phase: "write", target: "value" }) : value;
        let s: string | undefined;
        if (codec.kind === "json") {
          s = JSON.stringify(checked);
          if (s === undefined) {
            throw new KvValidationError(key, "write", "value", [{ message: "value is not JSON-serializable", path: "" }]);
          }
        } else {
          if (typeof checked !== "string") {
            throw new KvValidationError(key, "write", "value", [{ message: "text store values must be strings", path: "" }]);
          }
          s = checked;
        }
        const size = sizeForLimit(s, max);
        if (size > max) throw new KvLimitError("value-bytes", size, `value is ${size} bytes, more than ${max}`, max);
        return s;
      }
      case "bytes": {
        const b = value as Uint8Array;
        if (b.byteLength > max) throw new KvLimitError("value-bytes", b.byteLength, `value is ${b.byteLength} bytes, more than ${max}`, max);
        return b;
      }
      case "stream": {
        if (declaredSize !== undefined && declaredSize > max) {
          throw new KvLimitError("value-bytes", declaredSize, `value is ${declaredSize} bytes, more than ${max}`, max);
        }
        return new LimitedStream(value as ReadableStream<Uint8Array>, max);
      }
    }
  }

  async #write(full: string, value: string | ArrayBuffer | ArrayBufferView | LimitedStream, options: KvPutOptions, ops: KvOps | undefined): Promise<void> {
    // A stream can be consumed once, so it gets one attempt.
    const attempts = value instanceof LimitedStream ? 1 : Math.max(1, this.#retry.attempts);
    const body = value instanceof LimitedStream ? value.readable : value;
    for (let attempt = 1; ; attempt++) {
      try {
        await this._timed(ops, "writes", () => this.binding.put(full, body, options));
        return;
      } catch (err) {
        if (value instanceof LimitedStream && value.overflow) throw value.overflow;
        if (!isRateLimited(err)) throw new KvUnavailableError("put", full, err);
        if (attempt >= attempts) throw new KvRateLimitError(full, attempt, err);
        const cap = Math.min(this.#retry.maxDelayMs, this.#retry.baseDelayMs * 2 ** (attempt - 1));
        await this.#sleep(Math.round(cap / 2 + (this.#random() * cap) / 2));
      }
    }
  }
}

/**
 * A typed view of one KV namespace under one key prefix: everything `KvWriter`
 * (and so `KvReader`) does, plus bulk get and lazy listing.
 *
 * @example
 * import * as v from "valibot";
 * const Rollout = v.object({ percent: v.number() });
 * const store = new KvStore(env.ROLLOUT_KV, { prefix: "rollout:", codec: json(Rollout),
 *   cache: { ttlMs: 5_000, maxEntries: 10, staleOnError: true } });
 * await store.put("current", { percent: 10 });
 * const cfg = await store.get("current"); // { percent: 10 } | null, typed and validated
 */
export class KvStore<V, M = unknown, K extends Codec<V>["kind"] = Codec<V>["kind"]> extends KvWriter<V, M, K> {
  /**
   * Reads many keys with KV's bulk get (100 keys a call, one operation each);
   * json and text stores only. The map is keyed by the keys as given.
   * @example const users = await store.getMany(["u1", "u2"]); // Map { "u1" => {...}, "u2" => null }
   */
  async getMany(this: KvStore<V, M, "json" | "text">, keys: readonly string[], options: ReadOptions = {}): Promise<Map<string, V | null>> {
    if (this.codec.kind !== "json" && this.codec.kind !== "text") {
      throw new KvUnsupportedError(`getMany needs a json or text store, not ${this._codec.kind}`);
    }
    const cacheTtl = options.cacheTtl ?? this._cacheTtl;
    if (options.cacheTtl !== undefined) checkCacheTtl(options.cacheTtl);
    const out = new Map<string, V | null>();
    const missing: string[] = [];
    const now = this._now();
    for (const key of keys) {
      const full = this.keyFor(key);
      const held = options.fresh ? undefined : this._cache?.get(full);
      if (held && held.freshUntil > now && held.error === undefined) {
        if (options.ops) options.ops.cacheHits++;
        out.set(key, held.value);
      } else if (!missing.includes(key)) missing.push(key);
    }
    for (let i = 0; i < missing.length; i += KV_LIMITS.bulkGetMaxKeys) {
      const chunk = missing.slice(i, i + KV_LIMITS.bulkGetMaxKeys);
      const fulls = chunk.map((k) => this.prefix + k);
      const got = await this._timed(options.ops, "reads", () =>
        this.binding.get(fulls, { type: "text", ...(cacheTtl === undefined ? {} : { cacheTtl }) }),
      ).catch((err: unknown) => {
        throw new KvUnavailableError("getMany", fulls[0], err);
      });
      for (let j = 0; j < chunk.length; j++) {
        const full = fulls[j] as string;
        const raw = got.get(full) ?? null;
        const value = raw === null ? null : await this._decode(full, raw);
        if (this._cache) this._remember(full, value, null);
        out.set(chunk[j] as string, value);
      }
    }
    return out;
  }

  /**
   * What `put` would write, checked and encoded exactly as `put` does, without
   * writing it: for a caller that sends many keys in one bulk request.
   * json, text and bytes stores (a stream has no bytes to hold).
   * @example batch.add(await store.pair("s:v1:0", shard)) // { key: "site:s:v1:0", value: "{...}" }
   */
  async pair(key: string, value: V, options: Omit<WriteOptions<M>, "ops" | "size"> = {}): Promise<KvPair> {
    if (this.codec.kind === "stream") throw new KvUnsupportedError("pair needs a json, text or bytes store, not stream");
    const { full, encoded, putOptions } = await this._prepare(key, value, options);
    return { key: full, value: encoded as string | Uint8Array, ...putOptions };
  }

  /**
   * Lazily walks the keys under the store's prefix, one KV list call per page.
   * Loops on `list_complete`, not on emptiness: a page can be empty and still not the last.
   * @example for await (const page of store.listPages({ prefix: "v1/" })) console.log(page.keys.length);
   */
  listPages(options: ListOptions = {}): AsyncGenerator<ListPage<M>, void, undefined> {
    return listPagesOf<V, M, K>(this, options);
  }

  /**
   * Every key under the prefix, page by page behind the scenes.
   * @example for await (const key of store.keys()) console.log(key.name, key.expiration);
   */
  async *keys(options: Omit<ListOptions, "cursor"> = {}): AsyncGenerator<ListedKey<M>, void, undefined> {
    for await (const page of this.listPages(options)) yield* page.keys;
  }
}

// ------------------------------------------------------------------ checks

/**
 * Throws `KvLimitError` unless `key` is a legal KV key (1..512 bytes, not `.` or `..`).
 * @example checkKey("a".repeat(513)) // throws KvLimitError { limit: "key-bytes", value: 513 }
 */
export function checkKey(key: string): void {
  if (key.length === 0) throw new KvLimitError("key-empty", key, "a key must be at least 1 byte", 1);
  if (key === "." || key === "..") throw new KvLimitError("key-dot", key, `"${key}" is not a legal key`);
  const bytes = sizeForLimit(key, KV_LIMITS.keyMaxBytes);
  if (bytes > KV_LIMITS.keyMaxBytes) {
    throw new KvLimitError("key-bytes", bytes, `key is ${bytes} bytes, more than ${KV_LIMITS.keyMaxBytes}`, KV_LIMITS.keyMaxBytes);
  }
}

/** @example checkExpirationTtl(30) // throws KvLimitError { limit: "expiration-ttl", value: 30 } */
export function checkExpirationTtl(ttl: number): void {
  const min = KV_LIMITS.minExpirationTtlSeconds;
  if (!Number.isFinite(ttl) || ttl < min) {
    throw new KvLimitError("expiration-ttl", ttl, `expirationTtl ${ttl} is less than ${min} seconds`, min);
  }
}

/** @example checkExpiration(Date.now() / 1000 + 10, Date.now()) // throws KvLimitError { limit: "expiration" } */
export function checkExpiration(expiration: number, nowMs: number): void {
  const earliest = Math.ceil(nowMs / 1000) + KV_LIMITS.minExpirationAheadSeconds;
  if (!Number.isFinite(expiration) || expiration < earliest) {
    throw new KvLimitError(
      "expiration",
      expiration,
      `expiration ${expiration} is less than ${KV_LIMITS.minExpirationAheadSeconds} seconds from now (earliest ${earliest})`,
      earliest,
    );
  }
}

/** @example checkCacheTtl(10) // throws KvLimitError { limit: "cache-ttl", value: 10 } */
export function checkCacheTtl(ttl: number): void {
  const min = KV_LIMITS.minCacheTtlSeconds;
  if (!Number.isFinite(ttl) || ttl < min) throw new KvLimitError("cache-ttl", ttl, `cacheTtl ${ttl} is less than ${min} seconds`, min);
}

/** @example checkMetadataSize({ note: "x".repeat(2000) }) // throws KvLimitError { limit: "metadata-bytes" } */
export function checkMetadataSize(metadata: unknown): void {
  let s: string | undefined;
  try {
    s = JSON.stringify(metadata);
  } catch (err) {
    throw new KvLimitError("metadata-json", metadata, `metadata is not JSON-serializable: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (s === undefined) throw new KvLimitError("metadata-json", metadata, "metadata is not JSON-serializable");
  const bytes = encoder.encode(s).byteLength;
  if (bytes > KV_LIMITS.metadataMaxBytes) {
    throw new KvLimitError(
      "metadata-bytes",
      bytes,
      `metadata is ${bytes} bytes serialized, more than ${KV_LIMITS.metadataMaxBytes}`,
      KV_LIMITS.metadataMaxBytes,
    );
  }
}

/** A stream passed through a byte counter that errors once it exceeds `max`, so KV never stores a truncated value. */
class LimitedStream {
  readonly readable: ReadableStream<Uint8Array>;
  overflow: KvLimitError | undefined;
  constructor(source: ReadableStream<Uint8Array>, max: number) {
    const reader = source.getReader();
    let seen = 0;
    // Pull-based, so nothing is read ahead of what KV consumes (no buffering).
    this.readable = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        seen += value.byteLength;
        if (seen > max) {
          this.overflow = new KvLimitError("value-bytes", seen, `stream passed ${max} bytes`, max);
          await reader.cancel(this.overflow).catch(() => undefined);
          throw this.overflow;
        }
        controller.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    });
  }
}
