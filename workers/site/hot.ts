/**
 * Small file bodies held in the isolate, so a hot file costs no KV read and no
 * Cache API lookup. Always correct: a body is stored under its content hash
 * (and encoding), and a hash never changes meaning, so nothing here is ever
 * stale. Bounded by bytes, least recently used evicted first.
 */

/** Largest body held: bigger files stream from KV (and the Cache API on custom domains). */
export const MAX_HOT_FILE_BYTES = 256 * 1024;
/** Bytes held per isolate (Workers isolates have 128 MB). */
export const MAX_HOT_BYTES = 16 * 1024 * 1024;

/**
 * A byte-bounded LRU of immutable bodies.
 * @example const hot = new HotBodies(); hot.set("abc:id", bytes); hot.get("abc:id") // bytes
 */
export class HotBodies {
  readonly #bodies = new Map<string, Uint8Array>();
  readonly #maxBytes: number;
  readonly #maxFileBytes: number;
  #bytes = 0;

  constructor(maxBytes = MAX_HOT_BYTES, maxFileBytes = MAX_HOT_FILE_BYTES) {
    this.#maxBytes = maxBytes;
    this.#maxFileBytes = maxFileBytes;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** True when a body of `size` bytes would be held. */
  fits(size: number): boolean {
    return size <= this.#maxFileBytes && size <= this.#maxBytes;
  }

  get(key: string): Uint8Array | undefined {
    const body = this.#bodies.get(key);
    if (body) {
      // Most recently used last: Map keeps insertion order.
      this.#bodies.delete(key);
      this.#bodies.set(key, body);
    }
    return body;
  }

  set(key: string, body: Uint8Array): void {
    if (!this.fits(body.byteLength)) return;
    const old = this.#bodies.get(key);
    if (old) {
      this.#bytes -= old.byteLength;
      this.#bodies.delete(key);
    }
    this.#bodies.set(key, body);
    this.#bytes += body.byteLength;
    for (const [k, b] of this.#bodies) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#bodies.delete(k);
      this.#bytes -= b.byteLength;
    }
  }
}
