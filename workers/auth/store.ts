/**
 * The gate's read side of TOKENS_KV: lookups through the isolate cache, and
 * nothing that writes (issuing and revoking are shared/tokens/write.ts, used
 * by the CLI and the control Worker). Keys and the record's schema: model.ts.
 */
import { json } from "../../shared/kv/codec.ts";
import type { KvBinding } from "../../shared/kv/binding.ts";
import type { KvOps } from "../../shared/kv/ops.ts";
import { KvReader, type StoreCacheOptions } from "../../shared/kv/read.ts";
import { TOKEN_KEY_PREFIX, TokenRecordSchema, type TokenRecord } from "./model.ts";

export { TOKEN_KEY_PREFIX, USER_INDEX_PREFIX, type TokenRecord } from "./model.ts";

export interface TokenReaderOptions {
  now?: () => number;
  /** Isolate cache for lookups. */
  cache?: StoreCacheOptions<TokenRecord, unknown>;
  /** KV edge cacheTtl for lookups, seconds (>= 30). */
  cacheTtl?: number;
}

/**
 * Token records by hash, validated with `TokenRecordSchema`.
 * @example const record = await new TokenReader(env.TOKENS_KV).lookup(hash);
 */
export class TokenReader {
  readonly reader: KvReader<TokenRecord, unknown, "json">;

  constructor(kv: KvBinding, options: TokenReaderOptions = {}) {
    this.reader = new KvReader(kv, {
      prefix: TOKEN_KEY_PREFIX,
      codec: json(TokenRecordSchema),
      now: options.now ?? Date.now,
      ...(options.cache ? { cache: options.cache } : {}),
      ...(options.cacheTtl ? { cacheTtl: options.cacheTtl } : {}),
    });
  }

  /**
   * The record for a token hash, through the isolate cache when configured; null when unknown.
   * KV failures throw `KvUnavailableError` (the gate answers 503).
   */
  async lookup(hash: string, ops?: KvOps): Promise<TokenRecord | null> {
    return this.reader.get(hash, ops ? { ops } : {});
  }
}
