/**
 * The part of the `KVNamespace` binding the library uses, declared here so the
 * library type-checks both in Workers (workers-types) and in the Node CLI
 * (where the binding comes from wrangler's platform proxy). A real
 * `KVNamespace` is assignable to it, and so is a wrapper for fault injection.
 */
export interface KvGetOptions<T extends string> {
  type: T;
  cacheTtl?: number;
}

export interface KvPutOptions {
  expiration?: number;
  expirationTtl?: number;
  metadata?: unknown;
}

export interface KvListKey {
  name: string;
  expiration?: number;
  metadata?: unknown;
}

export type KvListResult =
  | { list_complete: false; keys: KvListKey[]; cursor: string; cacheStatus: string | null }
  | { list_complete: true; keys: KvListKey[]; cacheStatus: string | null };

export interface KvValueWithMetadata<V> {
  value: V | null;
  metadata: unknown;
  cacheStatus: string | null;
}

export interface KvBinding {
  get(key: string, options: KvGetOptions<"text">): Promise<string | null>;
  get(key: string, options: KvGetOptions<"arrayBuffer">): Promise<ArrayBuffer | null>;
  get(key: string, options: KvGetOptions<"stream">): Promise<ReadableStream | null>;
  get(keys: string[], options: KvGetOptions<"text">): Promise<Map<string, string | null>>;
  getWithMetadata(key: string, options: KvGetOptions<"text">): Promise<KvValueWithMetadata<string>>;
  getWithMetadata(key: string, options: KvGetOptions<"arrayBuffer">): Promise<KvValueWithMetadata<ArrayBuffer>>;
  getWithMetadata(key: string, options: KvGetOptions<"stream">): Promise<KvValueWithMetadata<ReadableStream>>;
  getWithMetadata(keys: string[], options: KvGetOptions<"text">): Promise<Map<string, KvValueWithMetadata<string>>>;
  put(key: string, value: string | ArrayBuffer | ArrayBufferView | ReadableStream, options?: KvPutOptions): Promise<void>;
  delete(key: string): Promise<void>;
  list(options?: { prefix?: string | null; limit?: number; cursor?: string | null }): Promise<KvListResult>;
}
