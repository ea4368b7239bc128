/**
 * KV access for tokens (shared by the gate, its admin API and the CLI); the
 * keys and the record's one schema are in model.ts. The token itself is never
 * written anywhere. `Tokens` is what the Worker needs (lookup, issue, revoke)
 * on the library's read and write halves; the CLI's `TokenStore`
 * (cli/token/store.ts) adds listing.
 */
import { listPages } from "../../shared/kv/list.ts";
import { KvReader, KvWriter, type StoreCacheOptions } from "../../shared/kv/store.ts";
import { json, text } from "../../shared/kv/codec.ts";
import type { KvBinding } from "../../shared/kv/binding.ts";
import { KvValidationError } from "../../shared/kv/errors.ts";
import type { KvOps } from "../../shared/kv/ops.ts";
import { validate } from "../../shared/kv/schema.ts";
import { TOKEN_KEY_PREFIX, TokenRecordSchema, USER_INDEX_PREFIX, USER_MESSAGE, USER_PATTERN, type TokenRecord } from "./model.ts";
import { generateToken, hashToken } from "./token.ts";

/** Default lifetime, as in the talk: one hour. */
export const DEFAULT_TTL_SECONDS = 3600;
/** KV refuses expirations under 60 s. */
export const MIN_TTL_SECONDS = 60;
export const MAX_TTL_SECONDS = 366 * 24 * 3600;

export { TOKEN_KEY_PREFIX, USER_INDEX_PREFIX, type TokenRecord } from "./model.ts";

export interface IssueInput {
  user: string;
  scopes?: string[];
  ttlSeconds?: number;
  label?: string;
}

export interface Issued {
  /** The secret: shown once, stored nowhere. */
  token: string;
  hash: string;
  record: TokenRecord;
}

export interface TokenStoreOptions {
  now?: () => number;
  /** Isolate cache for lookups (the gate); the CLI goes without. */
  cache?: StoreCacheOptions<TokenRecord, unknown>;
  /** KV edge cacheTtl for lookups, seconds (>= 30). */
  cacheTtl?: number;
}

/** Bad input to the store: a 400 in the Worker, a one-line error in the CLI. */
const invalid = (path: string, message: string) => new KvValidationError("token", "write", "value", [{ path, message }]);

/** Throws (a 400 / one-line error) unless `user` is a valid user id. */
export function checkUser(user: string): void {
  if (!USER_PATTERN.test(user)) throw invalid("user", USER_MESSAGE);
}

/**
 * Issues, looks up and revokes tokens; reads and writes are validated with
 * `TokenRecordSchema`.
 * @example
 * const tokens = new Tokens(env.TOKENS_KV);
 * const { token } = await tokens.issue({ user: "alice", scopes: ["GET:/api/*"] });
 */
export class Tokens {
  /** The gate's hot path: validated reads through the isolate cache. */
  readonly reader: KvReader<TokenRecord, unknown, "json">;
  /** Validated writes, and deletes. */
  readonly records: KvWriter<TokenRecord, unknown, "json">;
  readonly index: KvWriter<string, unknown, "text">;
  protected readonly _now: () => number;

  constructor(kv: KvBinding, options: TokenStoreOptions = {}) {
    this._now = options.now ?? Date.now;
    this.reader = new KvReader(kv, {
      prefix: TOKEN_KEY_PREFIX,
      codec: json(TokenRecordSchema),
      now: this._now,
      ...(options.cache ? { cache: options.cache } : {}),
      ...(options.cacheTtl ? { cacheTtl: options.cacheTtl } : {}),
    });
    this.records = new KvWriter(kv, { prefix: TOKEN_KEY_PREFIX, codec: json(TokenRecordSchema), now: this._now });
    this.index = new KvWriter(kv, { prefix: USER_INDEX_PREFIX, codec: text(), now: this._now });
  }

  /**
   * Creates a token: validates first (nothing is written for bad input), then the
   * record, then the index entry, both expiring with the token.
   * @example const { token, record } = await tokens.issue({ user: "alice", ttlSeconds: 3600, label: "laptop" });
   */
  async issue(input: IssueInput, ops?: KvOps): Promise<Issued> {
    const ttl = input.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    if (!Number.isInteger(ttl) || ttl < MIN_TTL_SECONDS || ttl > MAX_TTL_SECONDS) {
      throw invalid("ttl", `ttl must be a whole number of seconds from ${MIN_TTL_SECONDS} to ${MAX_TTL_SECONDS}, got ${ttl}`);
    }
    const token = generateToken();
    const { hash, id } = await hashToken(token);
    const now = this._now();
    const record = await validate(
      TokenRecordSchema,
      { id, user: input.user, scopes: input.scopes ?? [], issuedAt: now, expiresAt: now + ttl * 1000, label: input.label ?? "" },
      { key: "token", phase: "write", target: "value" },
    );
    const put = { expirationTtl: ttl, ...(ops ? { ops } : {}) };
    await this.records.put(hash, record, put);
    await this.index.put(`${record.user}/${hash}`, "1", put);
    return { token, hash, record };
  }

  /**
   * The record for a token hash, through the isolate cache when configured; null when unknown.
   * KV failures throw `KvUnavailableError` (the gate answers 503).
   */
  async lookup(hash: string, ops?: KvOps): Promise<TokenRecord | null> {
    return this.reader.get(hash, ops ? { ops } : {});
  }

  /**
   * Deletes one token (record and index entry). Returns the record it deleted, or null.
   * @example await tokens.revokeHash((await hashToken(token)).hash);
   */
  async revokeHash(hash: string, ops?: KvOps): Promise<TokenRecord | null> {
    const o = ops ? { ops } : {};
    const record = await this.records.get(hash, { fresh: true, ...o });
    await this.records.delete(hash, o);
    // This isolate stops honouring it at once; others within their cache bound.
    this.reader.clearCache();
    if (record) await this.index.delete(`${record.user}/${hash}`, o);
    return record;
  }

  /**
   * Deletes every token of `user`, found through the index. Returns how many.
   * @example await tokens.revokeUser("alice") // 3
   */
  async revokeUser(user: string, ops?: KvOps): Promise<number> {
    checkUser(user);
    const o = ops ? { ops } : {};
    let n = 0;
    for await (const page of listPages(this.index, { prefix: `${user}/`, ...o })) {
      for (const key of page.keys) {
        await this.records.delete(key.name.slice(user.length + 1), o);
        await this.index.delete(key.name, o);
        n++;
      }
    }
    if (n) this.reader.clearCache();
    return n;
  }
}
