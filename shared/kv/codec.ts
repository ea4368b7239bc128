import type { Schema } from "./schema.ts";

/**
 * How a store turns values into what KV holds and back.
 * `json` and `text` can carry a schema; `bytes` and `stream` are raw.
 */
export type Codec<V> = (
  | { readonly kind: "json"; readonly schema: Schema<V> | undefined }
  | { readonly kind: "text"; readonly schema: Schema<V> | undefined }
  | { readonly kind: "bytes" }
  | { readonly kind: "stream" }
) & {
  /** Type only: carries `V` for codecs that hold no schema. */
  readonly "~value"?: V;
};

/** The codec kinds that KV's bulk get supports. */
export type BulkCodec<V> = Extract<Codec<V>, { kind: "json" | "text" }>;

/**
 * JSON values, validated with `schema` on read and write.
 * @example const store = new KvStore(env.ROLLOUT_KV, { prefix: "rollout:", codec: json(RolloutSchema) });
 */
export function json<V = unknown>(schema?: Schema<V>): Codec<V> & { kind: "json" } {
  return { kind: "json", schema };
}

/**
 * Text values, optionally validated.
 * @example const store = new KvStore(env.SITE_KV, { prefix: "page:", codec: text() });
 */
export function text<V extends string = string>(schema?: Schema<V>): Codec<V> & { kind: "text" } {
  return { kind: "text", schema };
}

/**
 * Binary values read as one `Uint8Array`. For values of more than a few MiB, prefer `stream()`.
 * @example const icons = new KvStore(env.SITE_KV, { prefix: "icon:", codec: bytes() });
 */
export function bytes(): Codec<Uint8Array> & { kind: "bytes" } {
  return { kind: "bytes" };
}

/**
 * Streamed values: never buffered whole, on read or on write.
 * @example const blobs = new KvStore(env.SITE_KV, { prefix: "blob:", codec: stream() });
 */
export function stream(): Codec<ReadableStream> & { kind: "stream" } {
  return { kind: "stream" };
}
