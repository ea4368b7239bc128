/**
 * The CLI's token store: the one writer of TOKENS_KV (shared/tokens/write.ts:
 * issue, revoke), plus lookup and listing (`KvStore`). Records are validated
 * with the gate's own `TokenRecordSchema` (workers/auth/model.ts).
 */
import { KvStore, type KvBinding, type KvOps } from "../../shared/kv/index.ts";
import { checkUser, TokenMetaSchema, TokenWriter, type Rotated, type TokenMeta } from "../../shared/tokens/write.ts";
import { TOKEN_KEY_PREFIX, type TokenRecord } from "../../workers/auth/model.ts";
import { writeTogether } from "../remote/bulk.ts";

export {
  LABEL_PATTERN,
  MAX_LABEL_LENGTH,
  MAX_SCOPE_LENGTH,
  MAX_SCOPES,
  SCOPE_PATTERN,
  TOKEN_KEY_PREFIX,
  TokenRecordSchema,
  USER_INDEX_PREFIX,
  USER_PATTERN,
  type TokenRecord,
} from "../../workers/auth/model.ts";
export {
  DEFAULT_TTL_SECONDS,
  MAX_GRACE_SECONDS,
  MAX_TTL_SECONDS,
  MIN_TTL_SECONDS,
  parseGrace,
  TokenStateError,
  type IssueInput,
  type Issued,
  type Rotated,
} from "../../shared/tokens/write.ts";
export type TokenStoreOptions = { now?: () => number };

/**
 * Issues, looks up, lists and revokes tokens (the CLI).
 * @example
 * const store = new TokenStore(kv);
 * const { token } = await store.issue({ user: "alice", scopes: ["GET:/api/*"] });
 */
export class TokenStore extends TokenWriter {
  readonly #records: KvStore<TokenRecord, TokenMeta, "json">;

  constructor(kv: KvBinding, options: TokenStoreOptions = {}) {
    super(kv, options);
    this.#records = new KvStore(kv, { prefix: TOKEN_KEY_PREFIX, codec: this.records.codec, metadata: TokenMetaSchema, now: this._now });
  }

  /** The shared `rotate`; on --remote its writes go in one bulk request. */
  override rotate(hash: string, graceSeconds: number, ops?: KvOps): Promise<Rotated> {
    return writeTogether(this.#records.binding, () => super.rotate(hash, graceSeconds, ops));
  }

  /** The record for a token hash (uncached); null when unknown. */
  lookup(hash: string, ops?: KvOps): Promise<TokenRecord | null> {
    return this.#records.get(hash, { fresh: true, ...(ops ? { ops } : {}) });
  }

  /**
   * Live tokens (of one user, or all), without secrets: the records listed (their
   * metadata names the user; a record without it is read and judged by its own
   * `user`), then read in bulk (100 per KV call).
   * @example for await (const { record } of store.list("alice")) console.log(record.id, record.label);
   */
  async *list(user?: string): AsyncGenerator<{ hash: string; record: TokenRecord }, void, undefined> {
    if (user !== undefined) checkUser(user);
    for await (const page of this.#records.listPages()) {
      const hashes = page.keys.filter((k) => user === undefined || (k.metadata?.user ?? user) === user).map((k) => k.name);
      if (hashes.length === 0) continue;
      const got = await this.#records.getMany(hashes, { fresh: true });
      for (const hash of hashes) {
        const record = got.get(hash);
        if (record && record.expiresAt > this._now() && (user === undefined || record.user === user)) yield { hash, record };
      }
    }
  }
}
