/**
 * Bounded body reads, for the control Worker (leak reports, GitHub's key list,
 * Analytics Engine answers) and the CLI's REST client alike.
 */
import { HttpError } from "./errors.ts";

/**
 * Reads at most `max` bytes of a body, whatever Content-Length said; more cancels the
 * stream and throws `tooLarge` (default: a 413). Memory grows with what arrives, not
 * with `max` (the CLI reads values bounded at 25 MiB).
 * @example await readBounded(request.body, 256 * 1024, "body") // throws HttpError 413 past 256 KiB
 */
export async function readBounded(
  body: ReadableStream<Uint8Array> | null,
  max: number,
  what: string,
  tooLarge: (max: number, what: string) => Error = (m, w) => new HttpError(413, "too_large", `${w} over ${m} bytes`),
): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge(max, what);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
