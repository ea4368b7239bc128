/**
 * The one writer of TOKENS_KV (issue, revoke; later rotate), used by the CLI
 * (cli/token/store.ts) and the control Worker's admin API alike. The gate reads
 * through workers/auth/store.ts, which cannot write. Runtime-neutral: Web
 * Crypto and the KV binding only. The token itself is never written anywhere.
 *
 *   tok/<sha256 hex>   the record (TokenRecordSchema), expiring with the token,
 *                      with list metadata {user} (TokenMetaSchema): the per-user index
 *
 * One key per token, so issue is 1 write, rotate 2, revoke 1. Before issue 24
 * a second key, user/<user>/<hash>, indexed tokens by user; nothing writes it
 * now, and revokeUser still sweeps it so a token issued before the upgrade
 * cannot escape `revoke --user`.
 */
import { UNIT_SECONDS } from "../duration.ts";
import { HttpError } from "../http/errors.ts";
import { json, text } from "../kv/codec.ts";
import type { KvBinding } from "../kv/binding.ts";
import { KvValidationError } from "../kv/errors.ts";
import { listPages } from "../kv/list.ts";
import type { KvOps } from "../kv/ops.ts";
import { obj, match, standard } from "../kv/lite.ts";
import { validate, type Infer } from "../kv/schema.ts";
import { KvWriter } from "../kv/store.ts";
import { TOKEN_KEY_PREFIX, TokenRecordSchema, USER_INDEX_PREFIX, USER_MESSAGE, USER_PATTERN, type TokenRecord } from "../../workers/auth/model.ts";
import { generateToken, hashToken } from "../../workers/auth/token.ts";

/** Default lifetime, as in the talk: one hour. */
export const DEFAULT_TTL_SECONDS = 3600;
/** KV refuses expirations under 60 s. */
export const MIN_TTL_SECONDS = 60;
export const MAX_TTL_SECONDS = 366 * 24 * 3600;
/** Longest overlap a rotation grants the old token: a forgotten rotation must not keep it alive for its whole lifetime. */
export const MAX_GRACE_SECONDS = 30 * 24 * 3600;

/**
 * A rotation's grace, `0`, `90s`, `30m`, `24h` or `7d` (a bare number is seconds), checked against MAX_GRACE_SECONDS.
 * @example parseGrace("24h") // 86400
 */
export function parseGrace(value: string | number): number {
  const m = /^(\d{1,9})([smhd]?)$/.exec(String(value).trim());
  const seconds = m ? Number(m[1]) * (UNIT_SECONDS[m[2] || "s"] ?? 1) : Number.NaN;
  if (!(seconds >= 0 && seconds <= MAX_GRACE_SECONDS)) {
    throw invalid("grace", `grace is 0..${MAX_GRACE_SECONDS / 86400}d, as 0, 90s, 30m, 24h or 7d`);
  }
  return seconds;
}

/** A token that cannot be rotated (unknown, revoked, expired, already rotated): 409 in the Worker, one line in the CLI. */
export class TokenStateError extends HttpError {
  constructor(message: string) {
    super(409, "token_state", message);
  }
}

export interface Rotated extends Issued {
  /** The old token's record as rewritten: `expiresAt` = min(its expiry, now + grace), `rotatedTo` = the new id. */
  old: TokenRecord;
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

/** Bad input to the store: a 400 in the Worker, a one-line error in the CLI. */
const invalid = (path: string, message: string) => new KvValidationError("token", "write", "value", [{ path, message }]);

/** Throws (a 400 / one-line error) unless `user` is a valid user id. */
export function checkUser(user: string): void {
  if (!USER_PATTERN.test(user)) throw invalid("user", USER_MESSAGE);
}

/** A token record's list metadata: whose it is, so `list --user` and `revoke --user` need no second key. */
export const TokenMetaSchema = standard(obj({ user: match(USER_PATTERN, USER_MESSAGE) }));
export type TokenMeta = Infer<typeof TokenMetaSchema>;

/** The legacy (pre-issue-24) index key of one token of `user`, under USER_INDEX_PREFIX: read and deleted, never written. */
export const userIndexName = (user: string, hash: string): string => `${user}/${hash}`;

/**
 * Issues and revokes tokens; every record written is validated with `TokenRecordSchema`.
 * @example
 * const tokens = new TokenWriter(env.TOKENS_KV);
 * const { token } = await tokens.issue({ user: "alice", scopes: ["GET:/api/*"] });
 */
export class TokenWriter {
  readonly records: KvWriter<TokenRecord, TokenMeta, "json">;
  /** The legacy per-user index (see the header): swept by revokeUser, never written. */
  readonly legacyIndex: KvWriter<string, unknown, "text">;
  protected readonly _now: () => number;

  constructor(kv: KvBinding, options: { now?: () => number } = {}) {
    this._now = options.now ?? Date.now;
    this.records = new KvWriter(kv, { prefix: TOKEN_KEY_PREFIX, codec: json(TokenRecordSchema), metadata: TokenMetaSchema, now: this._now });
    this.legacyIndex = new KvWriter(kv, { prefix: USER_INDEX_PREFIX, codec: text(), now: this._now });
  }

  /**
   * Creates a token: validates first (nothing is written for bad input), then
   * one write: the record, expiring with the token, its user in the metadata.
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
    await this.records.put(hash, record, { expirationTtl: ttl, metadata: { user: record.user }, ...(ops ? { ops } : {}) });
    return { token, hash, record };
  }

  /**
   * Replaces a live token: a new one with the old one's user, scopes, label and
   * lifetime, and the old one cut to `now + grace` (never later than it was).
   * Two KV writes: the new record, then the old one cut (the new one first, so
   * an interrupted rotation never leaves the user with neither).
   * @example const { token, old } = await tokens.rotate(hash, 24 * 3600);
   */
  async rotate(hash: string, graceSeconds: number, ops?: KvOps): Promise<Rotated> {
    if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_GRACE_SECONDS) {
      throw invalid("grace", `grace must be a whole number of seconds from 0 to ${MAX_GRACE_SECONDS}, got ${graceSeconds}`);
    }
    const o = ops ? { ops } : {};
    const old = await this.records.get(hash, { fresh: true, ...o });
    const now = this._now();
    if (!old) throw new TokenStateError("no such token (revoked, expired or never issued): it cannot be rotated");
    if (old.expiresAt <= now) throw new TokenStateError(`token ${old.id} expired at ${new Date(old.expiresAt).toISOString()}: it cannot be rotated`);
    if (old.rotatedTo) throw new TokenStateError(`token ${old.id} was already rotated to ${old.rotatedTo}: rotate that one instead`);
    const lifetime = Math.min(MAX_TTL_SECONDS, Math.max(MIN_TTL_SECONDS, Math.round((old.expiresAt - old.issuedAt) / 1000)));
    const token = generateToken();
    const next = await hashToken(token);
    const expiresAt = Math.min(old.expiresAt, now + graceSeconds * 1000);
    const check = { key: "token", phase: "write", target: "value" } as const;
    const record = await validate(
      TokenRecordSchema,
      { id: next.id, user: old.user, scopes: old.scopes, issuedAt: now, expiresAt: now + lifetime * 1000, label: old.label, rotatedFrom: old.id },
      check,
    );
    const cut = await validate(TokenRecordSchema, { ...old, expiresAt, rotatedTo: next.id }, check);
    const metadata = { user: old.user };
    await this.records.put(next.hash, record, { expirationTtl: lifetime, metadata, ...o });
    // KV's floor is 60 s; the gate refuses the old token from expiresAt whatever KV still holds.
    await this.records.put(hash, cut, { expirationTtl: Math.max(MIN_TTL_SECONDS, Math.ceil((expiresAt - now) / 1000)), metadata, ...o });
    return { token, hash: next.hash, record, old: cut };
  }

  /**
   * Revokes a reported token with one write: its record.
   * @example await tokens.revokeRecord(hash) // the record it deleted, or null
   */
  async revokeRecord(hash: string, ops?: KvOps): Promise<TokenRecord | null> {
    const o = ops ? { ops } : {};
    const record = await this.records.get(hash, { fresh: true, ...o });
    if (record) await this.records.delete(hash, o);
    return record;
  }

  /**
   * Deletes one token (its record; one write). Returns the record it deleted, or null.
   * Gates stop honouring it within their cache bound (docs/auth.md "Revocation").
   * @example await tokens.revokeHash((await hashToken(token)).hash);
   */
  async revokeHash(hash: string, ops?: KvOps): Promise<TokenRecord | null> {
    const o = ops ? { ops } : {};
    const record = await this.records.get(hash, { fresh: true, ...o });
    await this.records.delete(hash, o);
    return record;
  }

  /**
   * Deletes every token of `user`, found by the records' list metadata (1 list
   * per 1,000 tokens of all users) and in the legacy index. Returns how many.
   * @example await tokens.revokeUser("alice") // 3
   */
  async revokeUser(user: string, ops?: KvOps): Promise<number> {
    checkUser(user);
    const o = ops ? { ops } : {};
    const doomed = new Set<string>();
    for await (const page of listPages(this.records, o)) {
      for (const key of page.keys) if (key.metadata?.user === user) doomed.add(key.name);
    }
    const legacy: string[] = [];
    for await (const page of listPages(this.legacyIndex, { prefix: `${user}/`, ...o })) {
      for (const key of page.keys) {
        doomed.add(key.name.slice(user.length + 1));
        legacy.push(key.name);
      }
    }
    for (const hash of doomed) await this.records.delete(hash, o);
    for (const name of legacy) await this.legacyIndex.delete(name, o);
    return doomed.size;
  }
}
