/**
 * `KvStore`: the writer plus bulk get, `pair` (a checked put for bulk
 * requests) and lazy listing; what the CLI and the control Worker use.
 * reader.ts reads, writer.ts writes, list.ts pages.
 */
import type { Codec } from "./codec.ts";
import { KvUnavailableError, KvUnsupportedError } from "./errors.ts";
import { KV_LIMITS } from "./limits.ts";
import { listPages as listPagesOf } from "./list.ts";
import {
  checkCacheTtl,
  decodeValue,
  timed,
  type KvPair,
  type ListedKey,
  type ListOptions,
  type ListPage,
  type ReadOptions,
  type WriteOptions,
} from "./reader.ts";
import { KvWriter } from "./writer.ts";

export {
  checkCacheTtl,
  checkKey,
  DEFAULT_ERROR_RETRY_MS,
  KvCoreReader,
  KvReader,
  type CoreReaderOptions,
  type KvPair,
  type ListedKey,
  type ListOptions,
  type ListPage,
  type ReaderOptions,
  type ReadOptions,
  type ReadResult,
  type RetryOptions,
  type StoreCacheOptions,
  type StoreOptions,
  type WriteOptions,
} from "./reader.ts";
export { checkExpiration, checkExpirationTtl, checkMetadataSize, KvWriter } from "./writer.ts";

/**
 * A typed view of one KV namespace under one key prefix: everything `KvWriter`
 * (and so `KvReader`) does, plus bulk get and lazy listing.
 *
 * @example
 * import * as v from "valibot";
 * const Rollout = v.object({ percent: v.number() });
 * const store = new KvStore(env.ROLLOUT_KV, { prefix: "rollout:", codec: json(Rollout),
 *   cache: { ttlMs: 5_000, maxEntries: 10, staleOnError: true } });
 * await store.put("current", { percent: 10 });
 * const cfg = await store.get("current"); // { percent: 10 } | null, typed and validated
 */
export class KvStore<V, M = unknown, K extends Codec<V>["kind"] = Codec<V>["kind"]> extends KvWriter<V, M, K> {
  /**
   * Reads many keys with KV's bulk get (100 keys a call, one operation each);
   * json and text stores only. The map is keyed by the keys as given.
   * @example const users = await store.getMany(["u1", "u2"]); // Map { "u1" => {...}, "u2" => null }
   */
  async getMany(this: KvStore<V, M, "json" | "text">, keys: readonly string[], options: ReadOptions = {}): Promise<Map<string, V | null>> {
    if (this.codec.kind !== "json" && this.codec.kind !== "text") {
      throw new KvUnsupportedError(`getMany needs a json or text store, not ${(this.codec as Codec<V>).kind}`);
    }
    const cacheTtl = options.cacheTtl ?? this._cacheTtl;
    if (options.cacheTtl !== undefined) checkCacheTtl(options.cacheTtl);
    const out = new Map<string, V | null>();
    const missing: string[] = [];
    const now = this._now();
    for (const key of keys) {
      const full = this.keyFor(key);
      const held = options.fresh ? undefined : this._cache?.get(full);
      if (held && held.freshUntil > now && held.error === undefined) {
        if (options.ops) options.ops.cacheHits++;
        out.set(key, held.value);
      } else if (!missing.includes(key)) missing.push(key);
    }
    for (let i = 0; i < missing.length; i += KV_LIMITS.bulkGetMaxKeys) {
      const chunk = missing.slice(i, i + KV_LIMITS.bulkGetMaxKeys);
      const fulls = chunk.map((k) => this.prefix + k);
      const got = await timed(options.ops, "reads", () => this.binding.get(fulls, { type: "text", ...(cacheTtl === undefined ? {} : { cacheTtl }) })).catch(
        (err: unknown) => {
          throw new KvUnavailableError("getMany", fulls[0], err);
        },
      );
      for (let j = 0; j < chunk.length; j++) {
        const full = fulls[j] as string;
        const raw = got.get(full) ?? null;
        const value = raw === null ? null : await decodeValue(this.codec, full, raw);
        if (this._cache) this._remember(full, value, null);
        out.set(chunk[j] as string, value);
      }
    }
    return out;
  }

  /**
   * What `put` would write, checked and encoded exactly as `put` does, without
   * writing it: for a caller that sends many keys in one bulk request.
   * json, text and bytes stores (a stream has no bytes to hold).
   * @example batch.add(await store.pair("s:v1:0", shard)) // { key: "site:s:v1:0", value: "{...}" }
   */
  async pair(key: string, value: V, options: Omit<WriteOptions<M>, "ops" | "size"> = {}): Promise<KvPair> {
    if (this.codec.kind === "stream") throw new KvUnsupportedError("pair needs a json, text or bytes store, not stream");
    const { full, encoded, putOptions } = await this._prepare(key, value, options);
    return { key: full, value: encoded as string | Uint8Array, ...putOptions };
  }

  /**
   * Lazily walks the keys under the store's prefix, one KV list call per page.
   * Loops on `list_complete`, not on emptiness: a page can be empty and still not the last.
   * @example for await (const page of store.listPages({ prefix: "v1/" })) console.log(page.keys.length);
   */
  listPages(options: ListOptions = {}): AsyncGenerator<ListPage<M>, void, undefined> {
    return listPagesOf<V, M, K>(this, options);
  }

  /**
   * Every key under the prefix, page by page behind the scenes.
   * @example for await (const key of store.keys()) console.log(key.name, key.expiration);
   */
  async *keys(options: Omit<ListOptions, "cursor"> = {}): AsyncGenerator<ListedKey<M>, void, undefined> {
    for await (const page of this.listPages(options)) yield* page.keys;
  }
}
