import { KvUnsupportedError } from "./errors.ts";
import type { Schema } from "./schema.ts";

/**
 * How a store turns values into what KV holds and back.
 * `json` and `text` can carry a schema; `bytes` and `stream` are raw.
 */
export type Codec<V> = (
  | { readonly kind: "json"; readonly schema: Schema<V> | undefined }
  | { readonly kind: "text"; readonly schema: Schema<V> | undefined }
  | { readonly kind: "bytes"; readonly raw: RawRead<V> }
  | { readonly kind: "stream"; readonly raw: RawRead<V> }
) & {
  /** Type only: carries `V` for codecs that hold no schema. */
  readonly "~value"?: V;
};

/**
 * How a raw codec (bytes, stream) reads: the binding's read `type` and the
 * value from what KV returned. Held by the codec, so a bundle that reads only
 * json and text holds none of it.
 */
export interface RawRead<V> {
  readonly type: "arrayBuffer" | "stream";
  decode(raw: ArrayBuffer | ReadableStream): V;
  /** Throws `KvUnsupportedError`: the isolate cache holds json and text values only. */
  refuseCache(): never;
}

function raw<V>(kind: string, type: RawRead<V>["type"], decode: RawRead<V>["decode"]): RawRead<V> {
  return {
    type,
    decode,
    refuseCache() {
      throw new KvUnsupportedError(`an isolate cache needs a json or text store, not ${kind}`);
    },
  };
}

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
  return { kind: "bytes", raw: raw("bytes", "arrayBuffer", (b) => new Uint8Array(b as ArrayBuffer)) };
}

/**
 * Streamed values: never buffered whole, on read or on write.
 * @example const blobs = new KvStore(env.SITE_KV, { prefix: "blob:", codec: stream() });
 */
export function stream(): Codec<ReadableStream> & { kind: "stream" } {
  return { kind: "stream", raw: raw("stream", "stream", (s) => s as ReadableStream) };
}
