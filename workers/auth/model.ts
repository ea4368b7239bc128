/**
 * TOKENS_KV's documents: keys, and the token record's one schema, used by the
 * gate (every read), its admin API and the CLI (every write). Built with
 * shared/kv/lite.ts, so no validator library is in the gate's bundle.
 *
 *   tok/<sha256 hex of the token>   JSON TokenRecord, expirationTtl = token lifetime;
 *                                   list metadata {user} (shared/tokens/write.ts TokenMetaSchema)
 *   user/<user id>/<sha256 hex>     legacy per-user index (before issue 24): never written, swept by revoke --user
 */
import { arr, int, match, obj, opt, refine, standard } from "../../shared/kv/lite.ts";
import type { Infer } from "../../shared/kv/schema.ts";
import { TOKEN_ID_CHARS } from "./token.ts";

export const TOKEN_KEY_PREFIX = "tok/";
export const USER_INDEX_PREFIX = "user/";

/** User ids go into KV keys and headers: no "/", no spaces, no control characters. */
export const USER_PATTERN = /^[A-Za-z0-9._@+:=-]{1,128}$/;
export const USER_MESSAGE = "user must be 1..128 of A-Z a-z 0-9 . _ @ + : = -";
/** `METHOD:/glob`, e.g. `GET:/api/*` or `*:/admin/*`; no whitespace or commas (scopes travel space-separated). */
export const SCOPE_PATTERN = /^(\*|[A-Z]{1,16}):\/[^\s,\u0000-\u001f\u007f]*$/;
export const SCOPE_MESSAGE = "a scope is METHOD:/glob, e.g. GET:/api/*";
export const LABEL_PATTERN = /^[^\u0000-\u001f\u007f]*$/;
export const LABEL_MESSAGE = "label may not contain control characters";
export const MAX_SCOPES = 32;
export const MAX_SCOPE_LENGTH = 128;
export const MAX_LABEL_LENGTH = 100;

/**
 * The one schema of a token record (a Standard Schema, for `KvReader`/`KvWriter`/`KvStore`).
 * @example new KvReader(env.TOKENS_KV, { prefix: TOKEN_KEY_PREFIX, codec: json(TokenRecordSchema) })
 */
const TOKEN_ID = match(new RegExp(`^[0-9a-f]{${TOKEN_ID_CHARS}}$`), `id must be ${TOKEN_ID_CHARS} hex digits`);

export const TokenRecordSchema = standard(
  obj({
    id: TOKEN_ID,
    user: match(USER_PATTERN, USER_MESSAGE),
    scopes: refine(arr(match(SCOPE_PATTERN, SCOPE_MESSAGE, MAX_SCOPE_LENGTH)), (a) => a.length <= MAX_SCOPES, `at most ${MAX_SCOPES} scopes`),
    /** Epoch ms. */
    issuedAt: int(0),
    /** Epoch ms; the gate refuses the token from this instant, whatever KV still holds. */
    expiresAt: int(0),
    label: match(LABEL_PATTERN, LABEL_MESSAGE, MAX_LABEL_LENGTH),
    /** Rotation (shared/tokens/write.ts): the id of the token this one replaced, and of the one that replaced it. Optional: older records parse. */
    rotatedFrom: opt(TOKEN_ID),
    rotatedTo: opt(TOKEN_ID),
  }),
);
export type TokenRecord = Infer<typeof TokenRecordSchema>;
