/**
 * What the Worker reads, checked on every KV read with lite Standard Schema
 * validators (a few hundred bytes, where valibot would break the bundle
 * budget). They accept exactly what the valibot schemas in schema.ts accept,
 * which `edgekv site` writes with: test/site/shapes.test.ts proves it with
 * fast-check.
 */
import { arr, int, lit, num, obj, opt, pick, rec, standard, str, tup } from "../../shared/kv/lite.ts";
import type { Schema } from "../../shared/kv/schema.ts";
import { REDIRECT_STATUS, TRAILING_SLASH, type Pointer, type Shard, type SiteIndex } from "./model.ts";

const size = int(0);
const entry = obj({ h: str, s: size, t: str, z: opt(obj({ br: opt(size), gz: opt(size) })), i: opt(lit(1)) });
const pattern = obj({ re: str, names: arr(str) });

export const PointerShape: Schema<Pointer> = standard(obj({ v: lit(1), live: str, previous: arr(str), at: num }));
export const ShardShape: Schema<Shard> = standard(rec(entry));
export const IndexShape: Schema<SiteIndex> = standard(
  obj({
    v: lit(1),
    id: str,
    at: num,
    hash: str,
    files: size,
    bytes: size,
    shards: int(1),
    chunk: int(1),
    slash: pick(TRAILING_SLASH),
    spa: opt(str),
    notFound: arr(str),
    redirects: arr(obj({ line: num, from: str, pattern: opt(pattern), to: str, status: pick(REDIRECT_STATUS) })),
    headers: arr(obj({ pattern, set: arr(tup([str, str])), unset: arr(str) })),
  }),
);
