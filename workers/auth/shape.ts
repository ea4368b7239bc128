/**
 * The token record as the gate reads it: a lite Standard Schema validator that
 * accepts exactly what `TokenRecordSchema` (valibot, store.ts) accepts, which
 * every write uses. test/auth/shape.test.ts proves they agree with fast-check.
 */
import { arr, int, obj, refine, standard, str } from "../../shared/kv/lite.ts";
import type { Schema } from "../../shared/kv/schema.ts";
import type { TokenRecord } from "./store.ts";

const re = (pattern: RegExp, max = Infinity) => refine(str, (s) => s.length <= max && pattern.test(s), `must match ${pattern}`);

export const TokenRecordShape: Schema<TokenRecord> = standard(
  obj({
    id: re(/^[0-9a-f]{12}$/),
    user: re(/^[A-Za-z0-9._@+:=-]{1,128}$/),
    scopes: refine(arr(re(/^(\*|[A-Z]{1,16}):\/[^\s,\u0000-\u001f\u007f]*$/, 128)), (a) => a.length <= 32, "at most 32 scopes"),
    issuedAt: int(0),
    expiresAt: int(0),
    label: re(/^[^\u0000-\u001f\u007f]*$/, 100),
  }),
);
