/**
 * Writing many keys at once: through the REST API's bulk write when the binding has it
 * (`--remote`), else one put per key (local state, a Worker's binding). No Node APIs,
 * so a publisher that runs in workerd tests can call it too.
 */
import {
  checkExpiration,
  checkExpirationTtl,
  checkKey,
  checkMetadataSize,
  KV_LIMITS,
  KvLimitError,
  type KvBinding,
  type KvPair,
} from "../../shared/kv/index.ts";

/** One key to write: its full name (any store prefix included), value and options (`KvStore.pair` makes one). */
export type { KvPair };

/** A binding that can write many pairs in few requests (the REST binding of `--remote`). */
export interface BulkWriter {
  /** Writes every pair; returns when all are stored (or throws, some maybe stored). */
  bulkPut(pairs: readonly KvPair[]): Promise<void>;
}

/** A binding that can hold writes and send them together (the REST binding of `--remote`). */
export interface WriteBatcher {
  /**
   * Runs `fn`; the puts it makes are held and sent as one bulk write when it returns
   * (nothing is sent when it throws). Reads inside `fn` do not see the held writes.
   */
  batch<T>(fn: () => Promise<T>): Promise<T>;
}

/**
 * Runs `fn` so that its puts reach KV in one request where the binding can (`--remote`),
 * and as they come otherwise. For writes that belong together (a rotation's new record
 * and the old one cut): one request, and none of them when `fn` throws.
 * Within one request there is no order between the keys.
 * @example await writeTogether(kv, async () => { await a.put("x", 1); await b.put("y", 2); });
 */
export function writeTogether<T>(kv: KvBinding, fn: () => Promise<T>): Promise<T> {
  const batcher = kv as Partial<WriteBatcher>;
  return typeof batcher.batch === "function" ? batcher.batch(fn) : fn();
}

/** Whether `kv` writes in bulk. */
export function canBulkPut(kv: KvBinding): kv is KvBinding & BulkWriter {
  return typeof (kv as Partial<BulkWriter>).bulkPut === "function";
}

/** Puts in flight at once when there is no bulk write. */
export const WRITE_MANY_CONCURRENCY = 8;

/** Throws a `KvLimitError` for the first pair that breaks a KV limit, before anything is sent. */
export function checkPairs(pairs: readonly KvPair[], nowMs: number): void {
  for (const p of pairs) {
    checkKey(p.key);
    const bytes = typeof p.value === "string" ? new TextEncoder().encode(p.value).byteLength : p.value.byteLength;
    if (bytes > KV_LIMITS.valueMaxBytes) {
      throw new KvLimitError("value-bytes", bytes, `value of ${p.key} is ${bytes} bytes, more than ${KV_LIMITS.valueMaxBytes}`, KV_LIMITS.valueMaxBytes);
    }
    if (p.metadata !== undefined) checkMetadataSize(p.metadata);
    if (p.expirationTtl !== undefined) checkExpirationTtl(p.expirationTtl);
    if (p.expiration !== undefined) checkExpiration(p.expiration, nowMs);
  }
}

/**
 * Writes `pairs`: one bulk request per 10,000 pairs (and < 100 MB) when `kv` can, else
 * one put each, `concurrency` at a time. Limits are checked first, so a bad pair sends
 * nothing. Pairs whose order matters (a marker after its parts, a pointer after its
 * index) go in separate calls: within one call there is no order.
 * @example await writeMany(kv, files.map((f) => ({ key: "site:b:" + f.hash, value: f.bytes, metadata: f.meta })));
 */
export async function writeMany(
  kv: KvBinding,
  pairs: readonly KvPair[],
  options: { concurrency?: number; now?: () => number } = {},
): Promise<{ bulk: boolean }> {
  checkPairs(pairs, (options.now ?? Date.now)());
  if (pairs.length === 0) return { bulk: canBulkPut(kv) };
  if (canBulkPut(kv)) {
    await kv.bulkPut(pairs);
    return { bulk: true };
  }
  let next = 0;
  const worker = async () => {
    while (next < pairs.length) {
      const p = pairs[next++] as KvPair;
      await kv.put(p.key, p.value, {
        ...(p.metadata !== undefined ? { metadata: p.metadata } : {}),
        ...(p.expiration !== undefined ? { expiration: p.expiration } : {}),
        ...(p.expirationTtl !== undefined ? { expirationTtl: p.expirationTtl } : {}),
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? WRITE_MANY_CONCURRENCY, pairs.length) }, worker));
  return { bulk: false };
}

/** A batch is sent once it holds this many pairs (the API's limit per bulk write). */
export const BATCH_MAX_PAIRS = 10_000;
/** ...or this many bytes, estimated as sent (base64 for bytes); the API takes 100 MB a request. */
export const BATCH_MAX_BYTES = 95_000_000;

/** The bytes a pair adds to a bulk body, about (binary goes as base64). */
function estimateBytes(p: KvPair): number {
  const value = typeof p.value === "string" ? p.value.length * 3 : Math.ceil(p.value.byteLength / 3) * 4;
  return value + p.key.length * 3 + (p.metadata === undefined ? 0 : JSON.stringify(p.metadata).length * 3) + 64;
}

/**
 * Collects writes and sends them in as few bulk requests as the API allows, for a caller
 * that produces pairs one at a time (a deploy uploading files with some concurrency).
 * `add` pairs go out in the next request; `addLast` pairs (a marker that says "all my
 * parts are stored") go out only after every pair added before them is stored, in a
 * later request. Requests are sent one at a time, in order; `add` waits while a full
 * batch is in flight, so memory stays bounded. Without bulk (local state), each pair is
 * put at once and `addLast` simply comes after what was awaited before it.
 * @example
 * const batch = new WriteBatch(kv);
 * await batch.add({ key: part1, value: bytes1 });
 * await batch.addLast({ key: marker, value: bytes0, metadata });
 * await batch.flush(); // everything stored
 */
export class WriteBatch {
  readonly #kv: KvBinding;
  readonly #now: () => number;
  #first: KvPair[] = [];
  #last: KvPair[] = [];
  #bytes = 0;
  #sending: Promise<void> = Promise.resolve();
  #failed: unknown;
  /** Pairs stored so far, their value bytes, and the write calls made (bulk calls, or puts without bulk). */
  readonly stats = { pairs: 0, bytes: 0, requests: 0 };

  constructor(kv: KvBinding, options: { now?: () => number } = {}) {
    this.#kv = kv;
    this.#now = options.now ?? Date.now;
  }

  /** Whether pairs are collected into bulk requests (else put one by one). */
  get bulk(): boolean {
    return canBulkPut(this.#kv);
  }

  add(pair: KvPair): Promise<void> {
    return this.#push(pair, false);
  }

  addLast(pair: KvPair): Promise<void> {
    return this.#push(pair, true);
  }

  async #push(pair: KvPair, last: boolean): Promise<void> {
    checkPairs([pair], this.#now());
    if (!canBulkPut(this.#kv)) {
      await writeMany(this.#kv, [pair]);
      this.#count([pair], 1);
      return;
    }
    if (this.#failed !== undefined) throw this.#failed;
    (last ? this.#last : this.#first).push(pair);
    this.#bytes += estimateBytes(pair);
    if (this.#first.length + this.#last.length >= BATCH_MAX_PAIRS || this.#bytes >= BATCH_MAX_BYTES) await this.#send();
  }

  /** Sends everything held; resolves when all of it is stored. */
  async flush(): Promise<void> {
    if (canBulkPut(this.#kv)) await this.#send();
    if (this.#failed !== undefined) throw this.#failed;
  }

  /** Queues what is held behind the requests in flight, and waits for them (backpressure). */
  #send(): Promise<void> {
    const first = this.#first;
    const last = this.#last;
    this.#first = [];
    this.#last = [];
    this.#bytes = 0;
    const kv = this.#kv as KvBinding & BulkWriter;
    this.#sending = this.#sending.then(async () => {
      if (this.#failed !== undefined) return;
      try {
        if (first.length) await this.#put(kv, first);
        // The markers only once the request holding their parts succeeded.
        if (last.length) await this.#put(kv, last);
      } catch (err) {
        this.#failed = err;
      }
    });
    return this.#sending.then(() => {
      if (this.#failed !== undefined) throw this.#failed;
    });
  }

  async #put(kv: KvBinding & BulkWriter, pairs: KvPair[]): Promise<void> {
    await kv.bulkPut(pairs);
    this.#count(pairs, 1);
  }

  #count(pairs: readonly KvPair[], requests: number): void {
    this.stats.pairs += pairs.length;
    this.stats.requests += requests;
    for (const p of pairs) this.stats.bytes += typeof p.value === "string" ? p.value.length : p.value.byteLength;
  }
}
