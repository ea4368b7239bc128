/**
 * The CLI's token store: everything `Tokens` (workers/auth/store.ts) does,
 * plus listing (`KvStore`, which the Worker does not bundle). Records are
 * validated with the Worker's own `TokenRecordSchema` (workers/auth/model.ts).
 */
import { KvStore, text, type KvBinding, type KvOps } from "../../shared/kv/index.ts";
import {
  checkUser,
  TOKEN_KEY_PREFIX,
  Tokens,
  USER_INDEX_PREFIX,
  type IssueInput,
  type Issued,
  type TokenRecord,
  type TokenStoreOptions,
} from "../../workers/auth/store.ts";
import { writeTogether } from "../remote/bulk.ts";

export {
  LABEL_PATTERN,
  MAX_LABEL_LENGTH,
  MAX_SCOPE_LENGTH,
  MAX_SCOPES,
  SCOPE_PATTERN,
  TokenRecordSchema,
  USER_PATTERN,
} from "../../workers/auth/model.ts";
export {
  DEFAULT_TTL_SECONDS,
  MAX_TTL_SECONDS,
  MIN_TTL_SECONDS,
  TOKEN_KEY_PREFIX,
  USER_INDEX_PREFIX,
  type IssueInput,
  type Issued,
  type TokenRecord,
  type TokenStoreOptions,
} from "../../workers/auth/store.ts";

/**
 * Issues, looks up, lists and revokes tokens (the CLI).
 * @example
 * const store = new TokenStore(kv);
 * const { token } = await store.issue({ user: "alice", scopes: ["GET:/api/*"] });
 */
export class TokenStore extends Tokens {
  readonly #records: KvStore<TokenRecord, unknown, "json">;
  readonly #index: KvStore<string, unknown, "text">;

  constructor(kv: KvBinding, options: TokenStoreOptions = {}) {
    super(kv, options);
    this.#records = new KvStore(kv, { prefix: TOKEN_KEY_PREFIX, codec: this.records.codec, now: this._now });
    this.#index = new KvStore(kv, { prefix: USER_INDEX_PREFIX, codec: text(), now: this._now });
  }

  /** The Worker's `issue`; on --remote the record and its index entry go in one bulk request. */
  override issue(input: IssueInput, ops?: KvOps): Promise<Issued> {
    return writeTogether(this.#records.binding, () => super.issue(input, ops));
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
