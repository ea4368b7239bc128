/**
 * The gate's read side of TOKENS_KV: one `get` per unknown hash, through the
 * isolate cache, and nothing that writes (issuing and revoking are
 * shared/tokens/write.ts, used by the CLI and the control Worker). Keys and the
 * record's schema: model.ts. Built from the read-only library's parts
 * (shared/kv/read.ts) rather than `KvReader`: the gate needs none of its
 * stale-on-error, revalidation, metadata or codecs, and the bundle's budget is tight.
 */
import { IsolateCache, type KvOps, KvUnavailableError, KvValidationError, validate, type KvBinding } from "../../shared/kv/read.ts";
import { TOKEN_KEY_PREFIX, TokenRecordSchema, type TokenRecord } from "./model.ts";

export { TOKEN_KEY_PREFIX, type TokenRecord } from "./model.ts";

export interface TokenReaderOptions {
  now: () => number;
  /** KV edge cacheTtl of each read, seconds (>= 30, KV's minimum). */
  cacheTtl: number;
  /** How long a record is held in the isolate, ms (0 or less: not held); capped per record, e.g. at its expiry. */
  ttlMs: (record: TokenRecord) => number;
  /** How long an unknown hash is held, ms. */
  negativeTtlMs: number;
  /** Bound on held hashes; least recently used go first. */
  maxEntries: number;
}

/**
 * Token records by hash, validated with `TokenRecordSchema`. No stale-on-error:
 * a failed read throws `KvUnavailableError` (the gate answers 503), whatever is held.
 * @example const held = reader.held(hash, ops); const record = held === undefined ? await reader.read(hash, ops) : held;
 */
export class TokenReader {
  readonly #kv: KvBinding;
  readonly #o: TokenReaderOptions;
  readonly #held: IsolateCache<TokenRecord, null>;

  constructor(kv: KvBinding, options: TokenReaderOptions) {
    this.#kv = kv;
    this.#o = options;
    this.#held = new IsolateCache(options.maxEntries);
  }

  /**
   * The record held for a token hash while fresh (null: held as unknown), or undefined when KV
   * must be read. Synchronous, so a request answered from the isolate takes no promise hop here.
   */
  held(hash: string, ops: KvOps): TokenRecord | null | undefined {
    const held = this.#held.get(TOKEN_KEY_PREFIX + hash);
    if (!held || held.freshUntil <= this.#o.now()) return undefined;
    ops.cacheHits++;
    return held.value;
  }

  /** The record read from KV (and held as the options say); null when unknown. */
  async read(hash: string, ops: KvOps): Promise<TokenRecord | null> {
    const key = TOKEN_KEY_PREFIX + hash;
    const o = this.#o;
    ops.reads++;
    const start = performance.now();
    let raw: string | null;
    try {
      raw = await this.#kv.get(key, { type: "text", cacheTtl: o.cacheTtl });
    } catch (err) {
      throw new KvUnavailableError("get", key, err);
    } finally {
      ops.kvMs += performance.now() - start;
    }
    let record: TokenRecord | null = null;
    if (raw !== null) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        throw new KvValidationError(key, "read", "value", [{ message: "not valid JSON", path: "" }]);
      }
      record = await validate(TokenRecordSchema, parsed, { key, phase: "read", target: "value" });
    }
    const ttl = record ? o.ttlMs(record) : o.negativeTtlMs;
    if (ttl > 0) this.#held.set(key, { value: record, metadata: null, freshUntil: o.now() + ttl });
    else this.#held.delete(key);
    return record;
  }
}
