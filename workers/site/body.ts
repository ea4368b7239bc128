/**
 * Streams a stored body (whole, a range, across chunks) from KV without ever
 * buffering it: each part is one KV stream, piped through a byte-slicer only at
 * the range's ends.
 */
import { HttpError } from "../../shared/http/errors.ts";
import type { KvOps } from "../../shared/kv/ops.ts";
import type { SiteReader } from "./store.ts";
import { blobKey, partsOf, type Encoding } from "./model.ts";

export interface BodyPlan {
  hash: string;
  enc: Encoding | "id";
  /** Size of the stored variant. */
  size: number;
  chunk: number;
  /** Inclusive byte range inside the variant. */
  start: number;
  end: number;
}

/** Drops `skip` bytes, passes `take`, then ends (which cancels the KV read). */
export function sliceStream(skip: number, take: number): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(chunk, controller) {
      const from = Math.min(skip, chunk.byteLength);
      skip -= from;
      const part = chunk.subarray(from, from + take);
      take -= part.byteLength;
      if (part.byteLength) controller.enqueue(part);
      if (take === 0) controller.terminate();
    },
  });
}

function missing(key: string): HttpError {
  console.error(JSON.stringify({ level: "error", code: "blob_missing", key }));
  return new HttpError(503, "blob_missing", "this file is temporarily unavailable", { "Retry-After": "5" });
}

/**
 * Opens the body: the first part is read before answering (so a missing blob is a 503,
 * not a truncated 200); later parts are read as the client consumes.
 * @example const body = await openBody(reader, { hash, enc: "id", size, chunk, start: 0, end: size - 1 }, ops, waitUntil);
 */
export async function openBody(reader: SiteReader, plan: BodyPlan, ops: KvOps, waitUntil: (p: Promise<unknown>) => void): Promise<ReadableStream> {
  const { hash, enc, size, chunk, start, end } = plan;
  const parts = partsOf(size, chunk);
  const keyOf = (i: number) => blobKey(hash, enc, parts, i, chunk);
  const first = Math.floor(start / chunk);
  const last = Math.floor(end / chunk);
  const open = async (i: number) => {
    const s = await reader.blob(keyOf(i), ops);
    if (!s) throw missing(keyOf(i));
    const partStart = i * chunk;
    const skip = Math.max(0, start - partStart);
    const partLen = Math.min(chunk, size - partStart);
    const take = Math.min(end, partStart + partLen - 1) - (partStart + skip) + 1;
    return skip === 0 && take === partLen ? s : s.pipeThrough(sliceStream(skip, take));
  };
  const head = await open(first);
  if (first === last && start === 0 && end === size - 1) return head;
  const { readable, writable } = new FixedLengthStream(end - start + 1);
  waitUntil(
    (async () => {
      let current = head;
      for (let i = first; ; i++) {
        await current.pipeTo(writable, { preventClose: i < last });
        if (i === last) return;
        current = await open(i + 1);
      }
    })().catch((err: unknown) => {
      console.error(JSON.stringify({ level: "error", code: "body_stream_failed", message: String(err) }));
      return writable.abort(err).catch(() => undefined);
    }),
  );
  return readable;
}
