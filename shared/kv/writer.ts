/**
 * The write half of the typed KV library: `KvWriter` (validated, limit-checked
 * puts with 429 retries, deletes) and the write-side limit checks. Data-plane
 * Workers never import this file (read.ts is their entry point).
 */
import type { KvBinding, KvPutOptions } from "./binding.ts";
import type { Codec } from "./codec.ts";
import { KvLimitError, KvRateLimitError, KvUnavailableError, KvValidationError } from "./errors.ts";
import { validate } from "./schema.ts";
import { KV_LIMITS, WRITE_RETRY_DEFAULTS } from "./limits.ts";
import type { KvOps } from "./ops.ts";
import { decodeMetadata, KvReader, sizeForLimit, timed, type StoreOptions, type WriteOptions, type RetryOptions } from "./reader.ts";

const encoder = new TextEncoder();
function isRateLimited(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /\b429\b|too many requests/i.test(msg);
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

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
      const metadata = await decodeMetadata(this._metadataSchema, full, options.metadata, "write");
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
    await timed(options.ops, "deletes", () => this.binding.delete(full)).catch((err: unknown) => {
      throw new KvUnavailableError("delete", full, err);
    });
  }

  // ---------------------------------------------------------------- internals

  async #encode(key: string, value: V, declaredSize: number | undefined): Promise<string | ArrayBuffer | ArrayBufferView | LimitedStream> {
    const max = KV_LIMITS.valueMaxBytes;
    const codec: Codec<V> = this.codec;
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
        await timed(ops, "writes", () => this.binding.put(full, body, options));
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

// ------------------------------------------------------------------ checks

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
