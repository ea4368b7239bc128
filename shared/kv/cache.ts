/**
 * A bounded, TTL'd cache held in the isolate (module scope), least recently
 * used evicted first. Expired entries are kept (until evicted) so a store can
 * serve them when KV fails: that is stale-on-error.
 */
import type { EdgeKvError } from "./errors.ts";

export interface CacheEntry<V, M> {
  readonly value: V | null;
  readonly metadata: M | null;
  /** Epoch ms after which the entry is stale. */
  readonly freshUntil: number;
  /** Set when the entry is a stale value re-armed after a failed read: the failure it stands in for. */
  readonly error?: EdgeKvError;
  /**
   * True when the read failed with nothing held: no value stands in, the read
   * throws `error` again until `freshUntil` (negative error caching).
   */
  readonly empty?: boolean;
}

/**
 * The cache behind `KvReader`'s `cache` option; usable on its own.
 * @example
 * const cache = new IsolateCache<string, null>(100);
 * cache.set("k", { value: "v", metadata: null, freshUntil: Date.now() + 5_000 });
 * cache.get("k")?.value // "v"
 */
export class IsolateCache<V, M> {
  readonly #entries = new Map<string, CacheEntry<V, M>>();
  readonly maxEntries: number;

  constructor(maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`cache maxEntries must be a positive integer, got ${maxEntries}`);
    this.maxEntries = maxEntries;
  }

  /** The entry for `key`, fresh or stale, marking it recently used. */
  get(key: string): CacheEntry<V, M> | undefined {
    const entry = this.#entries.get(key);
    if (entry) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
    }
    return entry;
  }

  set(key: string, entry: CacheEntry<V, M>): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    while (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}
