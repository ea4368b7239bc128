/** Content negotiation and conditional requests: Accept-Encoding, If-None-Match, Range, If-Range. */
import type { Encoding } from "./model.ts";

/**
 * The best stored encoding for `accept` (q-values honoured; ties prefer br, then gzip, then identity).
 * @example pickEncoding("gzip;q=1, br;q=0.5", { br: 10, gz: 12 }) // "gz"
 */
export function pickEncoding(accept: string | null, available: Partial<Record<Encoding, number>> | undefined): Encoding | undefined {
  if (!accept || !available) return undefined;
  const q: Record<string, number> = {};
  for (const part of accept.split(",")) {
    const [name = "", ...params] = part.split(";");
    let weight = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(p);
      if (m) weight = Number(m[1]);
    }
    const token = name.trim().toLowerCase();
    q[token === "gzip" || token === "x-gzip" ? "gz" : token] = weight;
  }
  const star = q["*"];
  let best: Encoding | undefined;
  let bestQ = q.identity ?? (star === undefined ? 1 : Math.max(star, 0.001));
  for (const enc of ["gz", "br"] as const) {
    const w = q[enc] ?? star ?? 0;
    if (available[enc] !== undefined && w > 0 && w >= bestQ) {
      best = enc;
      bestQ = w;
    }
  }
  return best;
}

/**
 * True when `header` (an If-None-Match value) matches one of `etags` by weak comparison.
 * @example etagMatches('W/"abc", "def"', ['"abc"']) // true
 */
export function etagMatches(header: string, etags: readonly string[]): boolean {
  if (header.trim() === "*") return true;
  for (const raw of header.split(",")) {
    const tag = raw.trim().replace(/^W\//, "");
    if (etags.includes(tag)) return true;
  }
  return false;
}

export type RangeResult = { start: number; end: number } | "unsatisfiable" | undefined;

/**
 * One `bytes=` range against a body of `size` bytes. Malformed or multiple ranges
 * are ignored (undefined: serve the whole body, as RFC 9110 allows).
 * @example parseRange("bytes=0-99", 1000) // { start: 0, end: 99 }
 */
export function parseRange(header: string | null, size: number): RangeResult {
  if (!header) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== "" && Number(m[2]) < start) return undefined;
  if (start >= size) return "unsatisfiable";
  const end = m[2] === "" ? size - 1 : Number(m[2]);
  return { start, end: Math.min(end, size - 1) };
}

/**
 * Whether an If-Range precondition lets the range apply: only a strong match of the
 * identity ETag does (we send no Last-Modified, so a date never matches).
 * @example ifRangeAllows('"abc"', '"abc"') // true
 */
export function ifRangeAllows(header: string | null, etag: string): boolean {
  return header === null || header.trim() === etag;
}
