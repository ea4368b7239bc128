/**
 * edgekv's typed Workers KV library: one import for the three Workers and the CLI.
 * @example
 * import { KvStore, json, KvOps } from "../../shared/kv/index.ts";
 */
export type { KvBinding, KvListKey, KvListResult, KvPutOptions } from "./binding.ts";
export { IsolateCache } from "./cache.ts";
export { bytes, json, stream, text, type BulkCodec, type Codec } from "./codec.ts";
export {
  EdgeKvError,
  KvLimitError,
  KvRateLimitError,
  KvUnavailableError,
  KvUnsupportedError,
  KvValidationError,
  type KvLimit,
  type ValidationIssue,
} from "./errors.ts";
export { arr, bool, fail, int, type Issue, lit, match, num, obj, opt, pick, rec, refine, standard, str, tup, type Lite, type Opt } from "./lite.ts";
export { KV_LIMITS, WRITE_RETRY_DEFAULTS } from "./limits.ts";
export { listPages } from "./list.ts";
export { KvOps, parseKvServerTiming } from "./ops.ts";
export { toIssues, validate, type Infer, type Schema } from "./schema.ts";
export {
  KvCoreReader,
  KvReader,
  KvStore,
  KvWriter,
  checkCacheTtl,
  checkExpiration,
  checkExpirationTtl,
  checkKey,
  checkMetadataSize,
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
} from "./store.ts";
