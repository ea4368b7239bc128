/**
 * The site's KV data model: keys and the one schema of each document, shared by
 * the Worker (it validates every read) and `edgekv site` (every write and
 * read-back). Built with shared/kv/lite.ts: no validator library in the bundle.
 *
 * Keys (all under SITE_PREFIX in SITE_KV):
 *   live                     Pointer: the live version + the previous ones kept for version skew. Written last.
 *   v:<version>              Index of one version: config, compiled rules, the hashes of its shards. Immutable.
 *   m:<hash>                 Manifest shard: path -> Entry; <hash> is of its bytes, so versions share unchanged shards.
 *   s:<version>:<n>          Manifest shard n of a version written before shards were shared (index v: 1). Read, never written.
 *   b:<sha256>:<enc>         Blob (enc: id, br, gz). Immutable, content-addressed.
 *   b:<sha256>:<enc>:<cs>:<i> Chunk i of a blob larger than the chunk size cs.
 */
import type { PathPolicy } from "../../shared/http/path.ts";
import { all, arr, int, lit, num, obj, opt, pick, rec, standard, str, tup } from "../../shared/kv/lite.ts";
import type { Infer } from "../../shared/kv/schema.ts";

export const SITE_PREFIX = "site:";
/** The site's path policy (shared/http/path.ts): `;` is an ordinary file-name character here, never on an empty or dot name. */
export const SITE_PATH_POLICY: PathPolicy = { pathParams: true };
export const POINTER_KEY = "live";
/** Largest blob stored in one key; bigger ones are split (KV's value limit). */
export const DEFAULT_CHUNK_BYTES = 25 * 1024 * 1024;
/** Target entries per manifest shard: a shard parses in well under a millisecond. */
export const SHARD_TARGET_ENTRIES = 256;
/** Most shards one version lists (512 suit 100,000 files; the index stays small). */
export const MAX_SHARDS = 4096;
/** Hex characters of a shard's key: the first 128 bits of the sha256 of its bytes. */
export const SHARD_HASH_CHARS = 32;
/** Previous versions kept in the pointer, served for fingerprinted assets after a deploy. */
export const DEFAULT_SKEW_VERSIONS = 3;
/** Longest file path (UTF-8 bytes) a site may hold: the Worker refuses longer request paths. */
export const MAX_SITE_PATH_BYTES = 1024;
/** Pages' limits for `_redirects` and `_headers`. */
export const MAX_STATIC_REDIRECTS = 2000;
export const MAX_DYNAMIC_REDIRECTS = 100;
export const MAX_HEADER_RULES = 100;

export const ENCODINGS = ["br", "gz"] as const;
export type Encoding = (typeof ENCODINGS)[number];
export const TRAILING_SLASH = ["auto", "force", "drop", "none"] as const;
export type TrailingSlash = (typeof TRAILING_SLASH)[number];
export const REDIRECT_STATUS = [200, 301, 302, 303, 307, 308] as const;

/**
 * The shard a path lives in (FNV-1a over UTF-16 units).
 * @example shardOf("/index.html", 4) // 0..3
 */
export function shardOf(path: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) h = Math.imul(h ^ path.charCodeAt(i), 0x01000193);
  return (h >>> 0) % shards;
}

/**
 * The KV key (without SITE_PREFIX) of part `part` of a blob.
 * @example blobKey("ab12", "br", 1, 0, 25 << 20) // "b:ab12:br"
 */
export function blobKey(hash: string, enc: Encoding | "id", parts: number, part: number, chunk: number): string {
  return parts <= 1 ? `b:${hash}:${enc}` : `b:${hash}:${enc}:${chunk}:${part}`;
}

/** Number of chunks a blob of `bytes` is stored in. */
export function partsOf(bytes: number, chunk: number): number {
  return Math.max(1, Math.ceil(bytes / chunk));
}

/** A shared manifest shard's key, from the hash of its bytes. */
export const shardKey = (hash: string): string => `m:${hash}`;
/** Shard n of a version in the old format (index v: 1), keyed by version. */
export const legacyShardKey = (version: string, n: number): string => `s:${version}:${n}`;
export const indexKey = (version: string): string => `v:${version}`;

/**
 * A fingerprinted file name: a hash-like run of 8+ characters with a digit, just
 * before the extension (`app.3f2a1c9e.js`, `main-B4x9kQ2z.css`).
 */
export const FINGERPRINT_RE = /[.-](?=[\w]*\d)[A-Za-z0-9_]{8,}\.[A-Za-z0-9]+$/;

const size = int(0);
const sizes = obj({ br: opt(size), gz: opt(size) });

/** One file of a version. Headers that depend on the file are decided at deploy time. */
const entry = obj({
  /** sha256 hex of the identity bytes: blob key and ETag. */
  h: str,
  /** Identity size in bytes. */
  s: size,
  /** Content-Type, charset included for text. */
  t: str,
  /** Sizes of the stored precompressed variants (only when smaller than identity). */
  z: opt(sizes),
  /** 1 when the name is fingerprinted: `immutable` caching and served across version skew. */
  i: opt(lit(1)),
});
export type Entry = ReturnType<typeof entry>;

/** A manifest shard `m:<hash>` (or `s:<version>:<n>`): path -> Entry. */
export const ShardSchema = standard(rec(entry));
export type Shard = Infer<typeof ShardSchema>;

/** A compiled path pattern: regex source and the names of its captures (`splat` for `*`). */
const pattern = obj({ re: str, names: arr(str) });
export type Pattern = ReturnType<typeof pattern>;

const redirect = obj({
  /** Line in `_redirects`, for messages. */
  line: num,
  /** Exact path for static rules, else a pattern. */
  from: str,
  pattern: opt(pattern),
  to: str,
  status: pick(REDIRECT_STATUS),
});
export type Redirect = ReturnType<typeof redirect>;

const headerRule = obj({ pattern, set: arr(tup([str, str])), unset: arr(str) });
export type HeaderRule = ReturnType<typeof headerRule>;

/** What both index formats hold besides their shards. */
const indexFields = {
  id: str,
  /** Deploy time, epoch ms. */
  at: num,
  /** sha256 of the manifest content: equal for identical sites. */
  hash: str,
  files: size,
  bytes: size,
  chunk: int(1),
  slash: pick(TRAILING_SLASH),
  /** SPA fallback file path, when SPA mode is on. */
  spa: opt(str),
  /** Directories (ending in "/") that hold a 404.html, longest first. */
  notFound: arr(str),
  redirects: arr(redirect),
  headers: arr(headerRule),
};
/** Before shards were shared: `shards` counts the version's own keys `s:<version>:<n>`. Still read. */
const indexV1 = obj({ v: lit(1), shards: int(1), ...indexFields });
/** `shards[n]` is the hash of the shard holding the paths with shardOf(path, shards.length) = n. */
const indexV2 = obj({
  v: lit(2),
  // At least one, each SHARD_HASH_CHARS hex (a literal: the Worker's bundle is tight; model.test.ts checks they agree).
  shards: all(arr(str), [(a) => a.length > 0 && a.every((h) => /^[0-9a-f]{32}$/.test(h)), "expected shard hashes"]),
  ...indexFields,
});

/** A version's index `v:<version>`, in either format (`v` tells which). */
export const IndexSchema = standard((v: unknown) =>
  (v as { v?: unknown } | null)?.v === 2 ? indexV2(v) : (indexV1(v) as ReturnType<typeof indexV1> | ReturnType<typeof indexV2>),
);
export type SiteIndex = Infer<typeof IndexSchema>;
export type SiteIndexV2 = ReturnType<typeof indexV2>;

/** The key of the shard that holds `path` in a version, whichever its format. */
export function shardKeyFor(index: SiteIndex, path: string): string {
  return index.v === 2 ? shardKey(index.shards[shardOf(path, index.shards.length)]!) : legacyShardKey(index.id, shardOf(path, index.shards));
}

/** Every shard key a version uses (each once). */
export function shardKeysOf(index: SiteIndex): string[] {
  return index.v === 2 ? [...new Set(index.shards)].map(shardKey) : Array.from({ length: index.shards }, (_, n) => legacyShardKey(index.id, n));
}

/** The live pointer `live`. */
export const PointerSchema = standard(
  obj({
    v: lit(1),
    live: str,
    /** Versions live before this one, newest first: their fingerprinted files stay served. */
    previous: arr(str),
    at: num,
  }),
);
export type Pointer = Infer<typeof PointerSchema>;

/**
 * Metadata of a blob's marker key (the identity blob, or its part 0), written after
 * every other part and variant: upload time (gc spares a deploy in progress) and the
 * sizes of the variants stored, so a redeploy knows all it needs from one list.
 */
export const BlobMetaSchema = standard(obj({ t: num, z: opt(sizes) }));
export type BlobMeta = Infer<typeof BlobMetaSchema>;

/** Metadata of a shared shard `m:<hash>`: its upload time, so gc spares a deploy in progress. */
export const ShardMetaSchema = standard(obj({ t: num }));

/**
 * Metadata of a version's index key, so `site versions` needs one list. `preview: 1`: uploaded
 * with `site deploy --preview` (the pointer was not moved); absent on older versions.
 */
export const VersionMetaSchema = standard(obj({ at: num, files: num, bytes: num, preview: opt(lit(1)) }));
export type VersionMeta = Infer<typeof VersionMetaSchema>;
