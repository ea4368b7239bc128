/**
 * valibot schemas of everything the site keeps in KV. `edgekv site` validates every
 * value with them before writing it and after reading it back; the Worker relies on
 * that (and checks shapes cheaply) to stay within its bundle budget.
 */
import { array, integer, literal, minValue, number, object, optional, picklist, pipe, record, string, tuple } from "valibot";
import type { InferOutput } from "valibot";
import { REDIRECT_STATUS, TRAILING_SLASH } from "./model.ts";

const size = pipe(number(), integer(), minValue(0));

/** One file of a version. Headers that depend on the file are decided at deploy time. */
export const EntrySchema = object({
  /** sha256 hex of the identity bytes: blob key and ETag. */
  h: string(),
  /** Identity size in bytes. */
  s: size,
  /** Content-Type, charset included for text. */
  t: string(),
  /** Sizes of the stored precompressed variants (only when smaller than identity). */
  z: optional(object({ br: optional(size), gz: optional(size) })),
  /** 1 when the name is fingerprinted: `immutable` caching and served across version skew. */
  i: optional(literal(1)),
});
export type Entry = InferOutput<typeof EntrySchema>;

export const ShardSchema = record(string(), EntrySchema);
export type Shard = InferOutput<typeof ShardSchema>;

/** A compiled path pattern: regex source and the names of its captures (`splat` for `*`). */
const PatternSchema = object({ re: string(), names: array(string()) });
export type Pattern = InferOutput<typeof PatternSchema>;

export const RedirectSchema = object({
  /** Line in `_redirects`, for messages. */
  line: number(),
  /** Exact path for static rules, else a pattern. */
  from: string(),
  pattern: optional(PatternSchema),
  to: string(),
  status: picklist(REDIRECT_STATUS),
});
export type Redirect = InferOutput<typeof RedirectSchema>;

export const HeaderRuleSchema = object({
  pattern: PatternSchema,
  set: array(tuple([string(), string()])),
  unset: array(string()),
});
export type HeaderRule = InferOutput<typeof HeaderRuleSchema>;

export const IndexSchema = object({
  v: literal(1),
  id: string(),
  /** Deploy time, epoch ms. */
  at: number(),
  /** sha256 of the manifest content: equal for identical sites. */
  hash: string(),
  files: size,
  bytes: size,
  shards: pipe(number(), integer(), minValue(1)),
  chunk: pipe(number(), integer(), minValue(1)),
  slash: picklist(TRAILING_SLASH),
  /** SPA fallback file path, when SPA mode is on. */
  spa: optional(string()),
  /** Directories (ending in "/") that hold a 404.html, longest first. */
  notFound: array(string()),
  redirects: array(RedirectSchema),
  headers: array(HeaderRuleSchema),
});
export type SiteIndex = InferOutput<typeof IndexSchema>;

export const PointerSchema = object({
  v: literal(1),
  live: string(),
  /** Versions live before this one, newest first: their fingerprinted files stay served. */
  previous: array(string()),
  at: number(),
});
export type Pointer = InferOutput<typeof PointerSchema>;

/**
 * Metadata of a blob's marker key (the identity blob, or its part 0), written after
 * every other part and variant: upload time (gc spares a deploy in progress) and the
 * sizes of the variants stored, so a redeploy knows all it needs from one list.
 */
export const BlobMetaSchema = object({ t: number(), z: optional(object({ br: optional(size), gz: optional(size) })) });
export type BlobMeta = InferOutput<typeof BlobMetaSchema>;

/** Metadata of a version's index key, so `site versions` needs one list. */
export const VersionMetaSchema = object({ at: number(), files: number(), bytes: number() });
export type VersionMeta = InferOutput<typeof VersionMetaSchema>;
