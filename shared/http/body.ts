/** Bounded body reads for Worker code (the control Worker's leak reports, key list and analytics answers). */
import { HttpError } from "./errors.ts";

/** Reads at most `max` bytes of a body; more is a 413, whatever Content-Length said. */
export async function readBounded(body: ReadableStream<Uint8Array> | null, max: number, what: string): Promise<Uint8Array> {
  const out = new Uint8Array(max);
  let n = 0;
  if (body) {
    const reader = body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (n + value.length > max) {
        await reader.cancel().catch(() => {});
        throw new HttpError(413, "too_large", `${what} over ${max} bytes`);
      }
      out.set(value, n);
      n += value.length;
    }
  }
  return out.subarray(0, n);
}
