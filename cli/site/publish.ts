/**
 * Publishing a site version into SITE_KV, in the order that makes a kill at any
 * moment harmless: blobs (content-addressed, never overwritten; each blob's marker
 * key last), then manifest shards, then the index, then the pointer. Until the
 * pointer is written the live site is untouched; the next deploy skips every blob
 * already stored. No Node APIs here (reading and compressing files is injected),
 * so the workerd tests publish with the same code.
 */
import { normalizePath, MAX_PATH_BYTES } from "../../shared/http/path.ts";
import { sha256Hex } from "../../shared/crypto.ts";
import { KvStore, bytes, json, type KvBinding } from "../../shared/kv/index.ts";
import { CliError, InputError } from "../errors.ts";
import { encodePath } from "../../workers/site/resolve.ts";
import {
  DEFAULT_CHUNK_BYTES,
  DEFAULT_SKEW_VERSIONS,
  FINGERPRINT_RE,
  MAX_SITE_PATH_BYTES,
  POINTER_KEY,
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
  ShardSchema,
  VersionMetaSchema,
  type BlobMeta,
  type Entry,
  type Pointer,
  type Shard,
  type SiteIndex,
  type VersionMeta,
} from "../../workers/site/model.ts";
import { contentTypeOf } from "./mime.ts";

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
  now: () => number;
  onProgress?: (done: number, total: number) => void;
}

export interface PublishResult {
  version: string;
  unchanged: boolean;
  dryRun: boolean;
  files: number;
  newBlobs: number;
  uploadedBytes: number;
  totalBytes: number;
  previous: string | null;
}

/** The stores of the site's keys, validated with the schemas the Worker's data model defines. */
export function siteStores(kv: KvBinding, now: () => number = Date.now) {
  const base = { prefix: SITE_PREFIX, now };
  return {
    pointer: new KvStore(kv, { ...base, codec: json(PointerSchema) }),
    index: new KvStore(kv, { ...base, codec: json(IndexSchema), metadata: VersionMetaSchema }),
    shard: new KvStore(kv, { ...base, codec: json(ShardSchema) }),
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
  const seen = new Set<string>();
  for (const f of files) {
    checkSitePath(f.path);
    if (seen.has(f.path)) throw new InputError(`two files map to "${f.path}"`);
    seen.add(f.path);
  }
  if (files.length === 0) throw new InputError("the site has no files");
  if (spa !== undefined && !seen.has(spa)) throw new InputError(`--spa ${spa}: no such file in the site`);
}

/** Uploads each new blob once (content-addressed), counting what it wrote. */
class BlobUploader {
  newBlobs = 0;
  uploadedBytes = 0;
  readonly #uploads = new Map<string, Promise<BlobMeta["z"]>>();
  readonly stores: SiteStores;
  readonly options: PublishOptions;
  readonly chunk: number;
  constructor(stores: SiteStores, options: PublishOptions, chunk: number) {
    this.stores = stores;
    this.options = options;
    this.chunk = chunk;
  }

  /** The blob's compressed sizes, uploading it first unless `known` (already in KV) or already under way. */
  ensure(hash: string, data: Uint8Array, compressible: boolean, known: BlobMeta | undefined): Promise<BlobMeta["z"]> {
    if (known) return Promise.resolve(known.z);
    let pending = this.#uploads.get(hash);
    if (!pending) this.#uploads.set(hash, (pending = this.#upload(hash, data, compressible)));
    return pending;
  }

  async #upload(hash: string, data: Uint8Array, compressible: boolean): Promise<BlobMeta["z"]> {
    const { options } = this;
    const variants = compressible && options.compress ? await options.compress(data) : {};
    const z: NonNullable<BlobMeta["z"]> = {};
    for (const enc of ["br", "gz"] as const) {
      const v = variants[enc];
      if (v && v.byteLength < data.byteLength) {
        z[enc] = v.byteLength;
        if (!options.dryRun) await this.#putParts(hash, enc, v);
      }
    }
    const zz = Object.keys(z).length ? z : undefined;
    if (!options.dryRun) await this.#putParts(hash, "id", data, { t: options.now(), ...(zz ? { z: zz } : {}) });
    this.newBlobs++;
    return zz;
  }

  async #putParts(hash: string, enc: Encoding | "id", data: Uint8Array, meta?: BlobMeta): Promise<void> {
    const parts = partsOf(data.byteLength, this.chunk);
    // Part 0 of identity is the marker: written after every other part.
    for (let i = parts - 1; i >= 0; i--) {
      const body = data.subarray(i * this.chunk, (i + 1) * this.chunk);
      await this.stores.blob.put(blobKey(hash, enc, parts, i, this.chunk), body, i === 0 && meta ? { metadata: meta } : {});
      this.uploadedBytes += body.byteLength;
    }
  }
}

/** Reads, hashes and (when new) uploads every file; the manifest entries, sorted by path, and their total size. */
async function storeFiles(
  options: PublishOptions,
  uploader: BlobUploader,
  markers: Map<string, BlobMeta>,
): Promise<{ entries: (readonly [string, Entry])[]; totalBytes: number }> {
  const { files } = options;
  let totalBytes = 0;
  let done = 0;
  const entries = await mapLimit(files, options.concurrency ?? DEFAULT_CONCURRENCY, async (f) => {
    let data: Uint8Array;
    try {
      data = await f.load();
    } catch (err) {
      throw new CliError(`cannot read ${f.path}: ${(err as { code?: string }).code ?? (err as Error).message}`);
    }
    const hash = await sha256Hex(data);
    const { type, compressible } = contentTypeOf(f.path);
    const z = await uploader.ensure(hash, data, compressible, markers.get(markerKey(hash, data.byteLength, uploader.chunk)));
    totalBytes += data.byteLength;
    options.onProgress?.(++done, files.length);
    const name = f.path.slice(f.path.lastIndexOf("/") + 1);
    const entry: Entry = { h: hash, s: data.byteLength, t: type, ...(z ? { z } : {}), ...(FINGERPRINT_RE.test(name) ? { i: 1 as const } : {}) };
    return [f.path, entry] as const;
  });
  entries.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return { entries, totalBytes };
}

/** The version's settings and rules, as the index stores them. */
function siteConfig(options: PublishOptions, entries: readonly (readonly [string, Entry])[]) {
  return {
    slash: options.slash ?? "auto",
    ...(options.spa !== undefined ? { spa: options.spa } : {}),
    notFound: entries
      .map(([p]) => p)
      .filter((p) => p.endsWith("/404.html"))
      .map((p) => p.slice(0, -8))
      .sort((a, b) => b.length - a.length),
    redirects: options.redirects ?? [],
    headers: options.headers ?? [],
  };
}

/**
 * Publishes a site version and makes it live (one pointer write, last).
 * @example const r = await publishSite(env.SITE_KV, { files, now: Date.now }); // r.version
 */
export async function publishSite(kv: KvBinding, options: PublishOptions): Promise<PublishResult> {
  const { now } = options;
  checkFiles(options.files, options.spa);
  const stores = siteStores(kv, now);
  const uploader = new BlobUploader(stores, options, options.chunk ?? DEFAULT_CHUNK_BYTES);
  const markers = await listBlobMarkers(stores);
  const pointer = await stores.pointer.get(POINTER_KEY);
  const { entries, totalBytes } = await storeFiles(options, uploader, markers);
  const config = siteConfig(options, entries);
  const hash = await sha256Hex(JSON.stringify({ entries, config }));
  const base = {
    files: entries.length,
    newBlobs: uploader.newBlobs,
    uploadedBytes: uploader.uploadedBytes,
    totalBytes,
    dryRun: options.dryRun === true,
    previous: pointer?.live ?? null,
  };

  // An identical site already live: nothing to write at all.
  if (pointer) {
    const live = await stores.index.get(indexKey(pointer.live)).catch(() => null);
    if (live?.hash === hash) return { ...base, version: pointer.live, unchanged: true };
  }
  const id = versionId(now(), hash);
  if (options.dryRun) return { ...base, version: id, unchanged: false };

  // Shards, then the index, then the pointer: a reader never sees a version before all of it is stored.
  const shards = Math.max(1, Math.ceil(entries.length / SHARD_TARGET_ENTRIES));
  const shardValues: Shard[] = Array.from({ length: shards }, () => ({}));
  for (const [p, e] of entries) shardValues[shardOf(p, shards)]![p] = e;
  await mapLimit(shardValues, options.concurrency ?? DEFAULT_CONCURRENCY, (s, n) => stores.shard.put(shardKey(id, n), s));
  const index: SiteIndex = { v: 1, id, at: now(), hash, files: entries.length, bytes: totalBytes, shards, chunk: uploader.chunk, ...config };
  const meta: VersionMeta = { at: index.at, files: index.files, bytes: index.bytes };
  await stores.index.put(indexKey(id), index, { metadata: meta });
  await writePointer(stores, id, pointer, options.keepPrevious ?? DEFAULT_SKEW_VERSIONS, now);
  return { ...base, version: id, unchanged: false };
}

/** Writes the pointer: `live` plus the versions before it, newest first. One KV write. */
export async function writePointer(stores: SiteStores, live: string, old: Pointer | null, keep: number, now: () => number): Promise<Pointer> {
  const previous = old ? [old.live, ...old.previous].filter((v, i, all) => v !== live && all.indexOf(v) === i).slice(0, keep) : [];
  const pointer: Pointer = { v: 1, live, previous, at: now() };
  await stores.pointer.put(POINTER_KEY, pointer);
  return pointer;
}
