/**
 * The CLI's token store: the one writer of TOKENS_KV (shared/tokens/write.ts:
 * issue, revoke), plus lookup and listing (`KvStore`). Records are validated
 * with the gate's own `TokenRecordSchema` (workers/auth/model.ts).
 */
import { KvStore, text, type KvBinding, type KvOps } from "../../shared/kv/index.ts";
import { checkUser, TokenWriter, type IssueInput, type Issued, type Rotated } from "../../shared/tokens/write.ts";
import { TOKEN_KEY_PREFIX, USER_INDEX_PREFIX, type TokenRecord } from "../../workers/auth/model.ts";
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
  readonly #records: KvStore<TokenRecord, unknown, "json">;
  readonly #index: KvStore<string, unknown, "text">;

  constructor(kv: KvBinding, options: TokenStoreOptions = {}) {
    super(kv, options);
    this.#records = new KvStore(kv, { prefix: TOKEN_KEY_PREFIX, codec: this.records.codec, now: this._now });
    this.#index = new KvStore(kv, { prefix: USER_INDEX_PREFIX, codec: text(), now: this._now });
  }

  /** The shared `issue`; on --remote the record and its index entry go in one bulk request. */
  override issue(input: IssueInput, ops?: KvOps): Promise<Issued> {
    return writeTogether(this.#records.binding, () => super.issue(input, ops));
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
   * Live tokens (of one user, or all), without secrets: records read in bulk (100 per KV call).
   * @example for await (const { record } of store.list("alice")) console.log(record.id, record.label);
   */
  async *list(user?: string): AsyncGenerator<{ hash: string; record: TokenRecord }, void, undefined> {
    if (user !== undefined) checkUser(user);
    for await (const page of this.#index.listPages(user === undefined ? {} : { prefix: `${user}/` })) {
      const hashes = page.keys.map((k) => k.name.slice(k.name.lastIndexOf("/") + 1));
      if (hashes.length === 0) continue;
      const got = await this.#records.getMany(hashes, { fresh: true });
      for (const hash of hashes) {
        const record = got.get(hash);
        if (record && record.expiresAt > this._now()) yield { hash, record };
      }
    }
  }
}
