/**
 * Where tokens live in TOKENS_KV (shared by the gate, its admin API and the CLI):
 *
 *   tok/<sha256 hex of the token>   JSON TokenRecord, expirationTtl = token lifetime
 *   user/<user id>/<sha256 hex>     "1", same expiration: the per-user index for revoke --user and list
 *
 * The token itself is never written anywhere.
 */
import { array, integer, maxLength, minValue, number, object, pipe, regex, string } from "valibot";
import { KvReader, KvStore, KvValidationError, json, text, validate, type KvBinding, type KvOps, type StoreCacheOptions } from "../../shared/kv/index.ts";
import { TokenRecordShape } from "./shape.ts";
import { generateToken, hashToken, TOKEN_ID_CHARS } from "./token.ts";

export const TOKEN_KEY_PREFIX = "tok/";
export const USER_INDEX_PREFIX = "user/";
/** Default lifetime, as in the talk: one hour. */
export const DEFAULT_TTL_SECONDS = 3600;
/** KV refuses expirations under 60 s. */
export const MIN_TTL_SECONDS = 60;
export const MAX_TTL_SECONDS = 366 * 24 * 3600;
export const MAX_SCOPES = 32;
export const MAX_SCOPE_LENGTH = 128;
export const MAX_LABEL_LENGTH = 100;

/** User ids go into KV keys and headers: no "/", no spaces, no control characters. */
export const USER_PATTERN = /^[A-Za-z0-9._@+:=-]{1,128}$/;
/** `METHOD:/glob`, e.g. `GET:/api/*` or `*:/admin/*`; no whitespace or commas (scopes travel space-separated). */
export const SCOPE_PATTERN = /^(\*|[A-Z]{1,16}):\/[^\s,\u0000-\u001f\u007f]*$/;
const LABEL_PATTERN = /^[^\u0000-\u001f\u007f]*$/;

export const TokenRecordSchema = object({
  id: pipe(string(), regex(new RegExp(`^[0-9a-f]{${TOKEN_ID_CHARS}}$`))),
  user: pipe(string(), regex(USER_PATTERN, "user must be 1..128 of A-Z a-z 0-9 . _ @ + : = -")),
  scopes: pipe(
    array(pipe(string(), maxLength(MAX_SCOPE_LENGTH), regex(SCOPE_PATTERN, "a scope is METHOD:/glob, e.g. GET:/api/*"))),
    maxLength(MAX_SCOPES),
  ),
  /** Epoch ms. */
  issuedAt: pipe(number(), integer(), minValue(0)),
  /** Epoch ms; the gate refuses the token from this instant, whatever KV still holds. */
  expiresAt: pipe(number(), integer(), minValue(0)),
  label: pipe(string(), maxLength(MAX_LABEL_LENGTH), regex(LABEL_PATTERN, "label may not contain control characters")),
});

/** Bad input to the store: a 400 in the Worker, a one-line error in the CLI. */
function invalid(path: string, message: string): KvValidationError {
  return new KvValidationError("token", "write", "value", [{ path, message }]);
}

function checkUser(user: string): void {
  if (!USER_PATTERN.test(user)) throw invalid("user", "user must be 1..128 of A-Z a-z 0-9 . _ @ + : = -");
}

export interface TokenRecord {
  id: string;
  user: string;
  scopes: string[];
  issuedAt: number;
  expiresAt: number;
  label: string;
}

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

/**
 * Issues, looks up, lists and revokes tokens.
 * @example
 * const store = new TokenStore(env.TOKENS_KV);
 * const { token } = await store.issue({ user: "alice", scopes: ["GET:/api/*"] });
 */
export class TokenStore {
  /** The gate's hot path: validated reads (lite schema) through the isolate cache. */
  readonly reader: KvReader<TokenRecord, unknown, "json">;
  /** Writes, deletes and listing, validated with the valibot schema. */
  readonly records: KvStore<TokenRecord, unknown, "json">;
  readonly index: KvStore<string, unknown, "text">;
  readonly #now: () => number;

  constructor(kv: KvBinding, options: TokenStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.reader = new KvReader(kv, {
      prefix: TOKEN_KEY_PREFIX,
      codec: json(TokenRecordShape),
      now: this.#now,
      ...(options.cache ? { cache: options.cache } : {}),
      ...(options.cacheTtl ? { cacheTtl: options.cacheTtl } : {}),
    });
    this.records = new KvStore(kv, { prefix: TOKEN_KEY_PREFIX, codec: json(TokenRecordSchema), now: this.#now });
    this.index = new KvStore(kv, { prefix: USER_INDEX_PREFIX, codec: text(), now: this.#now });
  }

  /**
   * Creates a token: validates first (nothing is written for bad input), then the
   * record, then the index entry, both expiring with the token.
   * @example const { token, record } = await store.issue({ user: "alice", ttlSeconds: 3600, label: "laptop" });
   */
  async issue(input: IssueInput, ops?: KvOps): Promise<Issued> {
    const ttl = input.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    if (!Number.isInteger(ttl) || ttl < MIN_TTL_SECONDS || ttl > MAX_TTL_SECONDS) {
      throw invalid("ttl", `ttl must be a whole number of seconds from ${MIN_TTL_SECONDS} to ${MAX_TTL_SECONDS}, got ${ttl}`);
    }
    const token = generateToken();
    const { hash, id } = await hashToken(token);
    const now = this.#now();
    const record = await validate(
      TokenRecordSchema,
      { id, user: input.user, scopes: input.scopes ?? [], issuedAt: now, expiresAt: now + ttl * 1000, label: input.label ?? "" },
      { key: "token", phase: "write", target: "value" },
    );
    await this.records.put(hash, record, { expirationTtl: ttl, ...(ops ? { ops } : {}) });
    await this.index.put(`${record.user}/${hash}`, "1", { expirationTtl: ttl, ...(ops ? { ops } : {}) });
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
   * @example await store.revokeHash((await hashToken(token)).hash);
   */
  async revokeHash(hash: string, ops?: KvOps): Promise<TokenRecord | null> {
    const record = await this.records.get(hash, { fresh: true, ...(ops ? { ops } : {}) });
    await this.records.delete(hash, ops ? { ops } : {});
    // This isolate stops honouring it at once; others within their cache bound.
    this.reader.clearCache();
    if (record) await this.index.delete(`${record.user}/${hash}`, ops ? { ops } : {});
    return record;
  }

  /**
   * Deletes every token of `user`, found through the index. Returns how many.
   * @example await store.revokeUser("alice") // 3
   */
  async revokeUser(user: string, ops?: KvOps): Promise<number> {
    checkUser(user);
    let n = 0;
    for await (const key of this.index.keys({ prefix: `${user}/`, ...(ops ? { ops } : {}) })) {
      const hash = key.name.slice(user.length + 1);
      await this.records.delete(hash, ops ? { ops } : {});
      await this.index.delete(key.name, ops ? { ops } : {});
      n++;
    }
    if (n) this.reader.clearCache();
    return n;
  }

  /**
   * Live tokens (of one user, or all), without secrets: records read in bulk (100 per KV call).
   * @example for await (const { record } of store.list("alice")) console.log(record.id, record.label);
   */
  async *list(user?: string): AsyncGenerator<{ hash: string; record: TokenRecord }, void, undefined> {
    if (user !== undefined) checkUser(user);
    for await (const page of this.index.listPages(user === undefined ? {} : { prefix: `${user}/` })) {
      const hashes = page.keys.map((k) => k.name.slice(k.name.lastIndexOf("/") + 1));
      if (hashes.length === 0) continue;
      const got = await this.records.getMany(hashes, { fresh: true });
      for (const hash of hashes) {
        const record = got.get(hash);
        if (record && record.expiresAt > this.#now()) yield { hash, record };
      }
    }
  }
}
