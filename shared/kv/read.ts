/**
 * The read-only entry point of the KV library, for the Workers that serve
 * requests (site, splitter, gate): readers, codecs, errors, limits, accounting.
 * Nothing here can put or delete; the writers are in shared/kv/index.ts, which
 * only the CLI and the control Worker import (test/node/bundle-writes.test.ts
 * checks the deployed bundles).
 */
export type { KvBinding, KvListKey, KvListResult } from "./binding.ts";
export { IsolateCache } from "./cache.ts";
export { bytes, json, stream, text, type Codec } from "./codec.ts";
export { EdgeKvError, KvLimitError, KvRateLimitError, KvUnavailableError, KvUnsupportedError, KvValidationError, type ValidationIssue } from "./errors.ts";
export { KV_LIMITS } from "./limits.ts";
export { KvOps, parseKvServerTiming } from "./ops.ts";
export { toIssues, validate, type Infer, type Schema } from "./schema.ts";
export {
  checkCacheTtl,
  checkKey,
  KvCoreReader,
  KvReader,
  type CoreReaderOptions,
  type ReaderOptions,
  type ReadOptions,
  type ReadResult,
  type StoreCacheOptions,
} from "./reader.ts";
