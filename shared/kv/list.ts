/**
 * Lazy listing, standalone so a Worker that lists without bulk-reading (or a
 * `KvWriter` that lists now and then) does not bundle all of `KvStore`.
 * `KvStore.listPages` and `KvStore.keys` are this generator.
 */
import type { Codec } from "./codec.ts";
import { KvLimitError, KvUnavailableError } from "./errors.ts";
import { KV_LIMITS } from "./limits.ts";
import { decodeMetadata, timed, type KvReader, type ListedKey, type ListOptions, type ListPage } from "./reader.ts";

/**
 * Walks the keys under `store`'s prefix (plus `options.prefix`), one KV list
 * call per page pulled. Loops on `list_complete`, not on emptiness: a page can
 * be empty and still not the last. Names come back without the store prefix,
 * metadata validated with the store's metadata schema.
 * @example for await (const page of listPages(index, { prefix: "alice/" })) console.log(page.keys.length);
 */
export async function* listPages<V, M, K extends Codec<V>["kind"]>(
  store: KvReader<V, M, K>,
  options: ListOptions = {},
): AsyncGenerator<ListPage<M>, void, undefined> {
  const max = KV_LIMITS.listMaxLimit;
  const limit = options.limit ?? max;
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new KvLimitError("list-limit", limit, `list limit must be an integer 1..${max}`, max);
  }
  const prefix = store.prefix + (options.prefix ?? "");
  let cursor = options.cursor ?? null;
  for (;;) {
    const page = await timed(options.ops, "lists", () => store.binding.list({ prefix, limit, ...(cursor ? { cursor } : {}) })).catch((err: unknown) => {
      throw new KvUnavailableError("list", prefix, err);
    });
    const keys: ListedKey<M>[] = [];
    // Element access: the metadata schema is the reader's protected internal.
    for (const k of page.keys) {
      keys.push({
        name: k.name.slice(store.prefix.length),
        expiration: k.expiration,
        metadata: await decodeMetadata(store["_metadataSchema"], k.name, k.metadata, "read"),
      });
    }
    cursor = page.list_complete ? null : page.cursor;
    yield { keys, cursor };
    if (page.list_complete) return;
  }
}
