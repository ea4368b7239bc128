/**
 * Publishing a site version into SITE_KV, in the order that makes a kill at any
 * moment harmless: blobs (content-addressed, never overwritten; each blob's marker
 * key last), then manifest shards, then the index, then the pointer. Until the
 * pointer is written the live site is untouched; the next deploy skips every blob
 * already stored. A preview (`preview: true`) stops before the pointer.
 *
 * Two passes: every file is hashed first, so the KV writes are counted (and
 * reported through `onPlan`) before the first one; then only new blobs are read
 * again, checked against their hash, and uploaded. No Node APIs here (reading and
 * compressing files is injected), so the workerd tests publish with the same code.
 */
import { normalizePath, MAX_PATH_BYTES } from "../../shared/http/path.ts";
import { sha256Hex } from "../../shared/crypto.ts";
import { KvStore, bytes, json, type KvBinding } from "../../shared/kv/index.ts";
import { CliError, InputError } from "../errors.ts";
import { encodePath } from "../../workers/site/resolve.ts";
import {
  DEFAULT_CHUNK_BYTES,
  DEFAULT_SKEW_VERSIONS,
  ENCODINGS,
  FINGERPRINT_RE,
  MAX_SITE_PATH_BYTES,
  POINTER_KEY,
  MAX_SHARDS,
  SHARD_HASH_CHARS,
  SHARD_TARGET_ENTRIES,
  SITE_PATH_POLICY,
  SITE_PREFIX,
  blobKey,
  indexKey,
  partsOf,
  shardKey,
  shardOf,
  type Encoding,
  type HeaderRule,
  type Redirect,
  type TrailingSlash,
  BlobMetaSchema,
  IndexSchema,
  PointerSchema,
  ShardMetaSchema,
  ShardSchema,
  VersionMetaSchema,
  type BlobMeta,
  type Entry,
  type Pointer,
  type Shard,
  type SiteIndex,
  type VersionMeta,
} from "../../workers/site/model.ts";
import { WriteBatch } from "../remote/bulk.ts";
import { contentTypeOf } from "./mime.ts";

/** Most files one version holds: Workers Static Assets' limit per version on Paid. Folders do not count. */
export const MAX_SITE_FILES = 100_000;
/** Uploads in flight at once. */
export const DEFAULT_CONCURRENCY = 8;

/** One file of the site to publish; its bytes are loaded only when needed. */
export interface FileSource {
  /** Site path, decoded, starting with "/". */
  path: string;
  load(): Promise<Uint8Array>;
}

/** Compresses a body; returns what it could (Node: brotli and gzip via node:zlib). */
export type Compressor = (data: Uint8Array) => Promise<Partial<Record<Encoding, Uint8Array>>>;

export interface PublishOptions {
  files: FileSource[];
  redirects?: Redirect[];
  headers?: HeaderRule[];
  slash?: TrailingSlash;
  /** SPA fallback file (site path). */
  spa?: string;
  compress?: Compressor;
  chunk?: number;
  /** Previous versions kept in the pointer for version skew. */
  keepPrevious?: number;
  concurrency?: number;
  dryRun?: boolean;
  /** Upload and record the version without moving the live pointer (`site deploy --preview`). */
  preview?: boolean;
  now: () => number;
  /** Progress of each pass: hashing every file, then uploading the new blobs. */
  onProgress?: (done: number, total: number, phase: "hashing" | "uploading") => void;
  /** Entries a shard aims at (default SHARD_TARGET_ENTRIES); tests lower it to get many shards from few files. */
  shardTarget?: number;
  /** Called once every file is hashed, before the first KV write (and in a dry run). */
  onPlan?: (plan: WritePlan) => void;
}

/** KV writes of one deploy, by kind. */
export interface WriteCount {
  /** Blob parts and precompressed variants. */
  blobs: number;
  shards: number;
  index: number;
  pointer: number;
  total: number;
}

/** The writes a deploy will make, known before it writes anything. */
export interface WritePlan {
  writes: WriteCount;
  /** True when `writes` is an upper bound: with precompression, a variant is kept only if it saves enough. */
  atMost: boolean;
  newBlobs: number;
  unchanged: boolean;
}

export interface PublishResult {
  version: string;
  unchanged: boolean;
  dryRun: boolean;
  /** Recorded without moving the live pointer. */
  preview: boolean;
  files: number;
  newBlobs: number;
  uploadedBytes: number;
  totalBytes: number;
  previous: string | null;
  /** The KV writes made (or, in a dry run, that would be made). */
  writes: WriteCount;
}

/**
 * A precompressed variant is stored only when it is at least this much smaller than identity:
 * it costs one more KV write, and Cloudflare compresses text for visitors anyway (docs/site.md).
 */
export const MIN_PRECOMPRESS_SAVING = 0.1;
/** KV writes a day on the Workers Free plan (https://developers.cloudflare.com/kv/platform/pricing/). */
export const FREE_PLAN_WRITES_PER_DAY = 1000;

/** A write count from its parts. */
export function writeCount(blobs: number, shards: number, index: number, pointer: number): WriteCount {
  return { blobs, shards, index, pointer, total: blobs + shards + index + pointer };
}

/** The stores of the site's keys, validated with the schemas the Worker's data model defines. */
export function siteStores(kv: KvBinding, now: () => number = Date.now) {
  const base = { prefix: SITE_PREFIX, now };
  return {
    pointer: new KvStore(kv, { ...base, codec: json(PointerSchema) }),
    index: new KvStore(kv, { ...base, codec: json(IndexSchema), metadata: VersionMetaSchema }),
    shard: new KvStore(kv, { ...base, codec: json(ShardSchema), metadata: ShardMetaSchema }),
    blob: new KvStore(kv, { ...base, codec: bytes(), metadata: BlobMetaSchema }),
  };
}
export type SiteStores = ReturnType<typeof siteStores>;

/**
 * Throws unless the Worker can serve `path`: it must survive encoding and the Worker's
 * path normalisation unchanged, and stay within the path limits.
 * @example checkSitePath("/a b/ü.html") // ok
 */
export function checkSitePath(path: string): void {
  const bytes = new TextEncoder().encode(path).byteLength;
  const encoded = encodePath(path);
  const norm = normalizePath(encoded, SITE_PATH_POLICY);
  let reason: string | undefined;
  if (bytes > MAX_SITE_PATH_BYTES) reason = `longer than ${MAX_SITE_PATH_BYTES} bytes`;
  else if (encoded.length > MAX_PATH_BYTES) reason = `longer than ${MAX_PATH_BYTES} bytes once percent-encoded`;
  else if (!norm.ok) reason = norm.reason;
  else if (norm.path !== path) reason = "not a canonical path (empty segment or trailing slash)";
  if (reason) throw new InputError(`cannot publish "${path}": ${reason}`);
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The key whose presence (written last) means a blob and all its variants are stored. */
export function markerKey(hash: string, size: number, chunk: number): string {
  return blobKey(hash, "id", partsOf(size, chunk), 0, chunk);
}

/** Blob markers already in KV, with their metadata: one list call per 1000 blob keys. */
export async function listBlobMarkers(stores: SiteStores): Promise<Map<string, BlobMeta>> {
  const out = new Map<string, BlobMeta>();
  for await (const k of stores.blob.keys({ prefix: "b:" })) if (k.metadata) out.set(k.name, k.metadata);
  return out;
}

/** A sortable version id: UTC time plus the start of the manifest hash. */
export function versionId(now: number, hash: string): string {
  const t = new Date(now)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `${t}-${hash.slice(0, 8)}`;
}

/** Refuses a file list the Worker could not serve as given. */
export function checkFiles(files: readonly FileSource[], spa: string | undefined): void {
  if (files.length > MAX_SITE_FILES)
    throw new InputError(`the site has ${files.length.toLocaleString("en-US")} files, more than ${MAX_SITE_FILES.toLocaleString("en-US")}`);
  const seen = new Set<string>();
  for (const f of files) {
    checkSitePath(f.path);
    if (seen.has(f.path)) throw new InputError(`two files map to "${f.path}"`);
    seen.add(f.path);
  }
  if (files.length === 0) throw new InputError("the site has no files");
  if (spa !== undefined && !seen.has(spa)) throw new InputError(`--spa ${spa}: no such file in the site`);
}

/** A file after the first pass: hashed, its bytes dropped (new blobs are read again to upload). */
interface Hashed {
  source: FileSource;
  hash: string;
  size: number;
  type: string;
  compressible: boolean;
  /** Sizes of the stored variants, once known (from the blob's marker, or its upload). */
  z?: BlobMeta["z"];
}

/** Uploads new blobs (content-addressed), counting the writes it makes, or would make in a dry run. */
class BlobUploader {
  uploadedBytes = 0;
  writes = 0;
  readonly stores: SiteStores;
  readonly options: PublishOptions;
  readonly chunk: number;
  /** Where the writes go: bulk requests on --remote (cli/remote/bulk.ts), one put each on local state. */
  readonly batch: WriteBatch;
  constructor(stores: SiteStores, options: PublishOptions, chunk: number, batch: WriteBatch) {
    this.stores = stores;
    this.options = options;
    this.chunk = chunk;
    this.batch = batch;
  }

  /** Uploads one new blob (variants, then identity with its marker last); the variant sizes stored. */
  async upload(f: Hashed): Promise<BlobMeta["z"]> {
    const { options } = this;
    const compress = f.compressible ? options.compress : undefined;
    // A dry run without compression needs no bytes: the sizes are known.
    if (options.dryRun && !compress) {
      this.#count(f.size);
      return undefined;
    }
    const data = await loadFile(f.source);
    // The key is the hash of the first read: bytes that changed since must not be stored under it.
    if (data.byteLength !== f.size || (await sha256Hex(data)) !== f.hash) {
      throw new CliError(`${f.source.path} changed during the deploy; run it again`);
    }
    const variants = compress ? await compress(data) : {};
    const z: NonNullable<BlobMeta["z"]> = {};
    for (const enc of ENCODINGS) {
      const v = variants[enc];
      if (v && v.byteLength <= data.byteLength * (1 - MIN_PRECOMPRESS_SAVING)) {
        z[enc] = v.byteLength;
        await this.#putParts(f.hash, enc, v);
      }
    }
    const zz = Object.keys(z).length ? z : undefined;
    await this.#putParts(f.hash, "id", data, { t: options.now(), ...(zz ? { z: zz } : {}) });
    return zz;
  }

  #count(bytes: number): void {
    this.writes += partsOf(bytes, this.chunk);
    this.uploadedBytes += bytes;
  }

  async #putParts(hash: string, enc: Encoding | "id", data: Uint8Array, meta?: BlobMeta): Promise<void> {
    if (this.options.dryRun) return this.#count(data.byteLength);
    const parts = partsOf(data.byteLength, this.chunk);
    // Part 0 of identity is the marker: stored only after every other key of the blob (addLast).
    const others = parts > 1 || meta?.z !== undefined;
    for (let i = parts - 1; i >= 0; i--) {
      const body = data.subarray(i * this.chunk, (i + 1) * this.chunk);
      const pair = await this.stores.blob.pair(blobKey(hash, enc, parts, i, this.chunk), body, i === 0 && meta ? { metadata: meta } : {});
      if (enc === "id" && i === 0 && others) await this.batch.addLast(pair);
      else await this.batch.add(pair);
      this.uploadedBytes += body.byteLength;
      this.writes++;
    }
  }
}

async function loadFile(f: FileSource): Promise<Uint8Array> {
  try {
    return await f.load();
  } catch (err) {
    throw new CliError(`cannot read ${f.path}: ${(err as { code?: string }).code ?? (err as Error).message}`);
  }
}

const types = new Map<string, string>();
/** One string per content type, not one per file (100,000 of them in a large deploy). */
function interned(type: string): string {
  const held = types.get(type);
  if (held !== undefined) return held;
  types.set(type, type);
  return type;
}

/** First pass: reads and hashes every file (nothing is kept in memory but the hash). */
async function hashFiles(options: PublishOptions): Promise<Hashed[]> {
  const { files } = options;
  let done = 0;
  return mapLimit(files, options.concurrency ?? DEFAULT_CONCURRENCY, async (source) => {
    const data = await loadFile(source);
    const hash = await sha256Hex(data);
    options.onProgress?.(++done, files.length, "hashing");
    const { type, compressible } = contentTypeOf(source.path);
    return { source, hash, size: data.byteLength, type: interned(type), compressible };
  });
}

/** A file's manifest entry; `z` comes from the stored marker or the upload. */
function entryOf(f: Hashed, z: BlobMeta["z"]): Entry {
  const name = f.source.path.slice(f.source.path.lastIndexOf("/") + 1);
  return { h: f.hash, s: f.size, t: f.type, ...(z ? { z } : {}), ...(FINGERPRINT_RE.test(name) ? { i: 1 as const } : {}) };
}

/** The version's settings and rules, as the index stores them. */
function siteConfig(options: PublishOptions, files: readonly Hashed[]) {
  return {
    slash: options.slash ?? "auto",
    ...(options.spa !== undefined ? { spa: options.spa } : {}),
    // Sorted by path first (the order manifests always had), so the manifest hash does not depend on the input order.
    notFound: files
      .map((f) => f.source.path)
      .sort()
      .filter((p) => p.endsWith("/404.html"))
      .map((p) => p.slice(0, -8))
      .sort((a, b) => b.length - a.length),
    redirects: options.redirects ?? [],
    headers: options.headers ?? [],
  };
}

const isPow2 = (n: number) => Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;

/**
 * How many shards a version of `files` files is split into: the power of two that keeps
 * shards near `target` entries, or the live version's count while it is within a factor
 * of two of that (64 to 512 entries a shard at the default target). Keeping the count is
 * what makes a one-file change rewrite one shard; when it must change (the site doubled
 * or halved), every shard is written once, as on a first deploy.
 * @example shardCountFor(100_000) // 512; shardCountFor(257, 1) // 1 (kept); shardCountFor(600, 1) // 4
 */
export function shardCountFor(files: number, live?: number, target = SHARD_TARGET_ENTRIES): number {
  let ideal = 1;
  while (ideal * target < files && ideal < MAX_SHARDS) ideal *= 2;
  return live !== undefined && isPow2(live) && live <= MAX_SHARDS && live * 2 >= ideal && live <= ideal * 2 ? live : ideal;
}

/** A version's manifest split into shards: each shard's hash (its key), and the content of those asked for. */
interface Manifest {
  /** Shard hashes in bucket order: what the index lists. */
  hashes: string[];
  /** sha256 over the shard hashes and the config: equal for identical sites with equal shard counts. */
  hash: string;
  /** The shards `keep` asked for (each content once): the ones to write. Others are dropped once hashed. */
  kept: { hash: string; shard: Shard }[];
}

/**
 * Buckets every file by shardOf(path, count) and hashes each bucket's canonical bytes (its
 * JSON, entries in path order): a shard no file of which changed keeps its hash, and its key.
 */
async function buildManifest(
  sorted: readonly Hashed[],
  count: number,
  config: ReturnType<typeof siteConfig>,
  keep: (hash: string) => boolean = () => false,
): Promise<Manifest> {
  const buckets: Shard[] = Array.from({ length: count }, () => ({}));
  for (const f of sorted) buckets[shardOf(f.source.path, count)]![f.source.path] = entryOf(f, f.z);
  const hashes: string[] = [];
  const kept: Manifest["kept"] = [];
  for (const [n, shard] of buckets.entries()) {
    const hash = (await sha256Hex(JSON.stringify(shard))).slice(0, SHARD_HASH_CHARS);
    hashes.push(hash);
    if (keep(hash) && !kept.some((k) => k.hash === hash)) kept.push({ hash, shard });
    buckets[n] = {};
  }
  return { hashes, kept, hash: await sha256Hex(JSON.stringify({ v: 2, shards: hashes, config })) };
}

/** Hashes of the shared shards in KV: one list call per 1000. */
export async function listShards(stores: SiteStores): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const k of stores.shard.keys({ prefix: "m:" })) out.add(k.name.slice(2));
  return out;
}

/**
 * The writes a deploy will make before it makes them: each new blob's parts (and, with
 * --precompress, up to one variant per encoding: `atMost`), and each shard not stored yet.
 */
function plannedWrites(
  hashed: readonly Hashed[],
  fresh: ReadonlyMap<string, Hashed>,
  shardHashes: readonly string[],
  stored: ReadonlySet<string>,
  count: number,
  chunk: number,
  compress: boolean,
): { blobs: number; shards: number; atMost: boolean } {
  let blobs = 0;
  let atMost = false;
  for (const f of fresh.values()) {
    const parts = partsOf(f.size, chunk);
    blobs += parts;
    // A variant is at most 90% of identity, so it needs no more parts than identity.
    if (f.compressible && compress) {
      blobs += ENCODINGS.length * parts;
      atMost = true;
    }
  }
  // With --precompress, a stored shard holding a new compressible file may change once its variants are known.
  const shards = new Set(shardHashes.filter((h) => !stored.has(h)));
  if (compress) for (const f of hashed) if (f.compressible && fresh.has(f.hash)) shards.add(shardHashes[shardOf(f.source.path, count)]!);
  return { blobs, shards: shards.size, atMost };
}

/**
 * Publishes a site version and makes it live (one pointer write, last), or with
 * `preview` records it without touching the pointer.
 * @example const r = await publishSite(env.SITE_KV, { files, now: Date.now }); // r.version, r.writes.total
 */
export async function publishSite(kv: KvBinding, options: PublishOptions): Promise<PublishResult> {
  const { now } = options;
  checkFiles(options.files, options.spa);
  const stores = siteStores(kv, now);
  const chunk = options.chunk ?? DEFAULT_CHUNK_BYTES;
  const batch = new WriteBatch(kv, { now });
  const uploader = new BlobUploader(stores, options, chunk, batch);
  const markers = await listBlobMarkers(stores);
  const storedShards = await listShards(stores);
  const pointer = await stores.pointer.get(POINTER_KEY);
  // The live index: its shard count is kept (so unchanged shards keep their keys) and its hash says "unchanged".
  const live = pointer ? await stores.index.get(indexKey(pointer.live)).catch(() => null) : null;
  const hashed = (await hashFiles(options)).sort((a, b) => (a.source.path < b.source.path ? -1 : 1));
  const totalBytes = hashed.reduce((n, f) => n + f.size, 0);
  const known = (f: Hashed) => markers.get(markerKey(f.hash, f.size, chunk));
  // Each new content once, however many paths share it.
  const fresh = new Map<string, Hashed>();
  for (const f of hashed) if (!known(f) && !fresh.has(f.hash)) fresh.set(f.hash, f);
  const config = siteConfig(options, hashed);
  const count = shardCountFor(hashed.length, live?.v === 2 ? live.shards.length : undefined, options.shardTarget);
  const preview = options.preview === true;
  const base = { files: hashed.length, newBlobs: fresh.size, totalBytes, dryRun: options.dryRun === true, preview, previous: pointer?.live ?? null };

  // The manifest as it is if no new blob gets a precompressed variant (exact without --precompress).
  for (const f of hashed) if (!fresh.has(f.hash)) f.z = known(f)?.z;
  // Every blob's metadata was held only for this: a large site's map is dropped before the uploads.
  markers.clear();
  const plan = await buildManifest(hashed, count, config);
  // Nothing new to store and the same manifest live: nothing to write at all.
  if (fresh.size === 0 && live?.hash === plan.hash) {
    const writes = writeCount(0, 0, 0, 0);
    options.onPlan?.({ writes, atMost: false, newBlobs: 0, unchanged: true });
    return { ...base, version: live.id, unchanged: true, uploadedBytes: 0, writes };
  }
  const planned = plannedWrites(hashed, fresh, plan.hashes, storedShards, count, chunk, options.compress !== undefined);
  options.onPlan?.({ writes: writeCount(planned.blobs, planned.shards, 1, preview ? 0 : 1), atMost: planned.atMost, newBlobs: fresh.size, unchanged: false });

  let done = 0;
  // Variants stored for new content, by hash (empty without --precompress): every path with that content gets them.
  const variants = new Map<string, BlobMeta["z"]>();
  await mapLimit([...fresh.values()], options.concurrency ?? DEFAULT_CONCURRENCY, async (f) => {
    const z = await uploader.upload(f);
    if (z) variants.set(f.hash, z);
    options.onProgress?.(++done, fresh.size, "uploading");
  });
  for (const f of hashed) if (variants.has(f.hash)) f.z = variants.get(f.hash);
  const manifest = await buildManifest(hashed, count, config, (h) => !storedShards.has(h));
  const toWrite = manifest.kept;
  const id = versionId(now(), manifest.hash);
  const writes = writeCount(uploader.writes, toWrite.length, 1, preview ? 0 : 1);
  const result = { ...base, version: id, unchanged: false, uploadedBytes: uploader.uploadedBytes, writes };
  if (options.dryRun) return result;

  // Shards, then the index, then the pointer: a reader never sees a version before all of it is stored.
  // With the blobs in as few bulk requests as the API allows (--remote); nothing points at them until the pointer.
  const shardMeta = { t: now() };
  for (const { hash, shard } of toWrite) await batch.add(await stores.shard.pair(shardKey(hash), shard, { metadata: shardMeta }));
  const index: SiteIndex = {
    v: 2,
    id,
    at: now(),
    hash: manifest.hash,
    files: hashed.length,
    bytes: totalBytes,
    shards: manifest.hashes,
    chunk,
    ...config,
  };
  const meta: VersionMeta = { at: index.at, files: index.files, bytes: index.bytes, ...(preview ? { preview: 1 as const } : {}) };
  await batch.add(await stores.index.pair(indexKey(id), index, { metadata: meta }));
  await batch.flush();
  // A preview never moves the pointer: only `site promote` and `site rollback` do.
  if (!preview) await writePointer(stores, id, pointer, options.keepPrevious ?? DEFAULT_SKEW_VERSIONS, now);
  return result;
}

/** Writes the pointer: `live` plus the versions before it, newest first. One KV write. */
export async function writePointer(stores: SiteStores, live: string, old: Pointer | null, keep: number, now: () => number): Promise<Pointer> {
  const previous = old ? [old.live, ...old.previous].filter((v, i, all) => v !== live && all.indexOf(v) === i).slice(0, keep) : [];
  const pointer: Pointer = { v: 1, live, previous, at: now() };
  await stores.pointer.put(POINTER_KEY, pointer);
  return pointer;
}
