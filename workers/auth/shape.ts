/**
 * The token record as the Worker checks it, on read (the gate) and on write
 * (the admin API): a lite Standard Schema validator that accepts exactly what
 * `TokenRecordSchema` (valibot, store.ts; the CLI writes with it) accepts, with
 * the same messages where that schema has its own. test/auth/shape.test.ts
 * proves they agree with fast-check.
 */
import { arr, int, match, obj, refine, standard } from "../../shared/kv/lite.ts";
import type { Schema } from "../../shared/kv/schema.ts";
import type { TokenRecord } from "./tokens.ts";

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

export const TokenRecordShape: Schema<TokenRecord> = standard(
  obj({
    id: match(/^[0-9a-f]{12}$/),
    user: match(USER_PATTERN, USER_MESSAGE),
    scopes: refine(arr(match(SCOPE_PATTERN, SCOPE_MESSAGE, MAX_SCOPE_LENGTH)), (a) => a.length <= MAX_SCOPES, `at most ${MAX_SCOPES} scopes`),
    issuedAt: int(0),
    expiresAt: int(0),
    label: match(LABEL_PATTERN, LABEL_MESSAGE, MAX_LABEL_LENGTH),
  }),
);
