/** Listing, rolling back and garbage-collecting site versions. No Node APIs. */
import { CliError } from "../errors.ts";
import { DEFAULT_SKEW_VERSIONS, POINTER_KEY, blobKey, indexKey, partsOf, shardKeysOf } from "../../workers/site/model.ts";
import type { Pointer, Shard } from "../../workers/site/model.ts";
import { writePointer, type SiteStores } from "./publish.ts";

/** gc never deletes a blob younger than this: it may belong to a deploy in progress. */
export const DEFAULT_GC_GRACE_MS = 60 * 60_000;
/** Versions gc keeps by default (newest first), besides the live and skew ones. */
export const DEFAULT_GC_KEEP = 5;

export interface VersionInfo {
  id: string;
  at: number;
  files: number;
  bytes: number;
  live: boolean;
  /** Kept in the pointer for version skew. */
  skew: boolean;
  /** Uploaded with `site deploy --preview` (it stays marked after a promote: that writes only the pointer). */
  preview: boolean;
}

/**
 * Every stored version, newest first (one list call per 1000 versions).
 * @example const { pointer, versions } = await listVersions(stores);
 */
export async function listVersions(stores: SiteStores): Promise<{ pointer: Pointer | null; versions: VersionInfo[] }> {
  const pointer = await stores.pointer.get(POINTER_KEY);
  const versions: VersionInfo[] = [];
  for await (const k of stores.index.keys({ prefix: "v:" })) {
    const id = k.name.slice(2);
    const { at, files, bytes, preview } = k.metadata ?? { at: 0, files: 0, bytes: 0 };
    versions.push({ id, at, files, bytes, live: pointer?.live === id, skew: pointer?.previous.includes(id) ?? false, preview: preview === 1 });
  }
  versions.sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1));
  return { pointer, versions };
}

/**
 * Makes `version` (default: the one live before the current) live again: one pointer write.
 * @example await rollback(stores, undefined, Date.now) // { from: "2026...-ab", to: "2026...-cd" }
 */
export async function rollback(stores: SiteStores, version: string | undefined, now: () => number): Promise<{ from: string; to: string }> {
  const pointer = await stores.pointer.get(POINTER_KEY);
  if (!pointer) throw new CliError("no site is deployed, nothing to roll back");
  const to = version ?? pointer.previous[0];
  if (!to) throw new CliError("no previous version recorded; name one (see `edgekv site versions`)");
  if (to === pointer.live) throw new CliError(`${to} is already live`);
  const index = await stores.index.get(indexKey(to));
  if (!index) throw new CliError(`version ${to} not found (see \`edgekv site versions\`)`);
  await writePointer(stores, to, pointer, Math.max(DEFAULT_SKEW_VERSIONS, pointer.previous.length), now);
  return { from: pointer.live, to };
}

/**
 * Makes `version` live: one pointer write, as rollback (the old live version joins the skew
 * list). The only way, with rollback, that a preview becomes live. Works before any site is live.
 * @example await promote(stores, "20261202T051200Z-1a2b3c4d", Date.now) // { from: "2026...-ab", to: "20261202T051200Z-1a2b3c4d", unchanged: false }
 */
export async function promote(stores: SiteStores, version: string, now: () => number): Promise<{ from: string | null; to: string; unchanged: boolean }> {
  const pointer = await stores.pointer.get(POINTER_KEY);
  if (pointer?.live === version) return { from: version, to: version, unchanged: true };
  const index = await stores.index.get(indexKey(version));
  if (!index) throw new CliError(`version ${version} not found (see \`edgekv site versions\`)`);
  await writePointer(stores, version, pointer, Math.max(DEFAULT_SKEW_VERSIONS, pointer?.previous.length ?? 0), now);
  return { from: pointer?.live ?? null, to: version, unchanged: false };
}

export interface GcResult {
  keptVersions: string[];
  deletedVersions: string[];
  deletedShards: number;
  keptShards: number;
  deletedBlobs: number;
  keptBlobs: number;
  dryRun: boolean;
}

/** Every blob key (all parts, all variants) the entries of a shard use. */
function blobKeysOf(shard: Shard, chunk: number, into: Set<string>): void {
  for (const e of Object.values(shard)) {
    const sizes: [string, number][] = [["id", e.s], ...Object.entries(e.z ?? {})];
    for (const [enc, size] of sizes) {
      const parts = partsOf(size, chunk);
      for (let i = 0; i < parts; i++) into.add(blobKey(e.h, enc as "id", parts, i, chunk));
    }
  }
}

/**
 * Deletes versions beyond the newest `keep` (never the live one or those kept for skew),
 * then every shard and blob no retained version uses and older than the grace period.
 * Shards are shared between versions: one is kept while any retained version's index lists
 * it, and each blob while any kept shard lists it. Old-format shards (`s:<version>:<n>`)
 * go with their version. Previews count as versions: one among the newest `keep` is kept
 * whole (its links keep working); an older one is deleted, and its links then show the live site.
 * @example await gc(stores, { keep: 5, now: Date.now })
 */
export async function gc(stores: SiteStores, options: { keep?: number; graceMs?: number; dryRun?: boolean; now: () => number }): Promise<GcResult> {
  const keep = options.keep ?? DEFAULT_GC_KEEP;
  const { pointer, versions } = await listVersions(stores);
  const retained = versions.filter((v, i) => i < keep || v.live || v.skew);
  const doomed = versions.filter((v) => !retained.includes(v));
  if (pointer && !retained.some((v) => v.id === pointer.live)) throw new CliError(`live version ${pointer.live} is not listed; refusing to collect garbage`);
  const usedShards = new Set<string>();
  const usedBlobs = new Set<string>();
  // A shard is read once however many versions list it; the blob keys depend on the version's chunk size.
  const seen = new Set<string>();
  for (const v of retained) {
    const index = await stores.index.get(indexKey(v.id));
    if (!index) throw new CliError(`version ${v.id} has no readable index; refusing to collect garbage`);
    for (const key of shardKeysOf(index)) {
      usedShards.add(key);
      if (seen.has(`${index.chunk}/${key}`)) continue;
      seen.add(`${index.chunk}/${key}`);
      const shard = await stores.shard.get(key);
      if (!shard) throw new CliError(`version ${index.id} is missing manifest shard ${key}; refusing to collect garbage`);
      blobKeysOf(shard, index.chunk, usedBlobs);
    }
  }
  const dryRun = options.dryRun === true;
  // Index first: a half-deleted version is then simply not listed, and its keys are collected below.
  if (!dryRun) for (const v of doomed) await stores.index.delete(indexKey(v.id));
  const cutoff = options.now() - (options.graceMs ?? DEFAULT_GC_GRACE_MS);
  const shards = { deleted: 0, kept: 0 };
  const doomedIds = new Set(doomed.map((v) => v.id));
  for await (const k of stores.shard.keys({ prefix: "s:" })) {
    // s:<version>:<n>, from before shards were shared, goes with its version (as it always did):
    // one of a version not listed may be an older CLI's deploy in progress.
    if (doomedIds.has(k.name.slice(2, k.name.lastIndexOf(":")))) {
      if (!dryRun) await stores.shard.delete(k.name);
      shards.deleted++;
    } else shards.kept++;
  }
  for await (const k of stores.shard.keys({ prefix: "m:" })) {
    // A young shard no index lists yet may belong to a deploy in progress.
    if (usedShards.has(k.name) || (k.metadata !== null && k.metadata.t > cutoff)) shards.kept++;
    else {
      if (!dryRun) await stores.shard.delete(k.name);
      shards.deleted++;
    }
  }
  let deletedBlobs = 0;
  let keptBlobs = 0;
  const unused: string[] = [];
  const youngHashes = new Set<string>();
  for await (const k of stores.blob.keys({ prefix: "b:" })) {
    if (usedBlobs.has(k.name)) keptBlobs++;
    else unused.push(k.name);
    // Only markers carry the upload time; parts and variants go with their marker's hash.
    if (k.metadata && k.metadata.t > cutoff) youngHashes.add(k.name.split(":")[1]!);
  }
  for (const name of unused) {
    if (youngHashes.has(name.split(":")[1]!)) {
      keptBlobs++;
      continue;
    }
    if (!dryRun) await stores.blob.delete(name);
    deletedBlobs++;
  }
  return {
    keptVersions: retained.map((v) => v.id),
    deletedVersions: doomed.map((v) => v.id),
    deletedShards: shards.deleted,
    keptShards: shards.kept,
    deletedBlobs,
    keptBlobs,
    dryRun,
  };
}
