/**
 * The site's one schema per KV document (workers/site/model.ts), read by the Worker and
 * written by `edgekv site`: generated valid documents pass unchanged, and each invalid
 * field is refused with an issue whose path names it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Schema } from "../../shared/kv/schema.ts";
import { IndexSchema, PointerSchema, REDIRECT_STATUS, SHARD_HASH_CHARS, ShardSchema, TRAILING_SLASH } from "../../workers/site/model.ts";

const validate = (schema: Schema<unknown>, v: unknown) => {
  const r = schema["~standard"].validate(v);
  if (r instanceof Promise) throw new Error("lite schemas are synchronous");
  return r;
};
const str = fc.string({ maxLength: 8 });
const size = fc.nat();
const entry = fc.record(
  { h: str, s: size, t: str, z: fc.record({ br: size, gz: size }, { requiredKeys: [] }), i: fc.constant(1 as const) },
  { requiredKeys: ["h", "s", "t"] },
);
const pattern = fc.record({ re: str, names: fc.array(str, { maxLength: 2 }) });
const pointer = fc.record({ v: fc.constant(1 as const), live: str, previous: fc.array(str, { maxLength: 3 }), at: fc.double({ noNaN: true }) });
const index = fc.record(
  {
    v: fc.constant(1 as const),
    id: str,
    at: fc.double({ noNaN: true }),
    hash: str,
    files: size,
    bytes: size,
    shards: fc.integer({ min: 1, max: 64 }),
    chunk: fc.integer({ min: 1 }),
    slash: fc.constantFrom(...TRAILING_SLASH),
    spa: str,
    notFound: fc.array(str, { maxLength: 2 }),
    redirects: fc.array(
      fc.record(
        { line: fc.integer(), from: str, pattern, to: str, status: fc.constantFrom(...REDIRECT_STATUS) },
        { requiredKeys: ["line", "from", "to", "status"] },
      ),
      { maxLength: 2 },
    ),
    headers: fc.array(fc.record({ pattern, set: fc.array(fc.tuple(str, str), { maxLength: 2 }), unset: fc.array(str, { maxLength: 2 }) }), { maxLength: 2 }),
  },
  { requiredKeys: ["v", "id", "at", "hash", "files", "bytes", "shards", "chunk", "slash", "notFound", "redirects", "headers"] },
);

/** Refuses `bad` put at `field` of every generated document, with an issue at that path. */
function refuses(schema: Schema<unknown>, valid: fc.Arbitrary<Record<string, unknown>>, field: string, bad: unknown[]) {
  fc.assert(
    fc.property(valid, fc.constantFrom(...bad), (doc, value) => {
      const r = validate(schema, { ...doc, [field]: value });
      expect(r.issues?.length).toBe(1);
      expect(r.issues![0]!.path![0]).toBe(field);
    }),
    { numRuns: 30 },
  );
}

describe("the site's KV documents, one schema each", () => {
  it("pointer: valid ones pass unchanged; each invalid field is refused by name", () => {
    fc.assert(
      fc.property(pointer, (p) => {
        expect(validate(PointerSchema, p)).toEqual({ value: p });
      }),
    );
    refuses(PointerSchema, pointer, "v", [2, "1", undefined]);
    refuses(PointerSchema, pointer, "live", [1, null]);
    refuses(PointerSchema, pointer, "previous", ["x", [1]]);
    refuses(PointerSchema, pointer, "at", [Number.NaN, "0"]);
  });

  it("version index: valid ones pass unchanged; each invalid field is refused by name", () => {
    fc.assert(
      fc.property(index, (i) => {
        expect(validate(IndexSchema, i)).toEqual({ value: i });
      }),
    );
    refuses(IndexSchema, index, "files", [-1, 1.5]);
    refuses(IndexSchema, index, "shards", [0, 2.5]);
    refuses(IndexSchema, index, "slash", ["sometimes"]);
    refuses(IndexSchema, index, "redirects", [[{ line: 1, from: "/a", to: "/b", status: 404 }]]);
    refuses(IndexSchema, index, "headers", [[{ pattern: { re: "", names: [] }, set: [["a"]], unset: [] }]]);
  });

  it("version index v2 (shared shards): lists 1+ shard hashes of SHARD_HASH_CHARS hex; anything else is refused", () => {
    const hash = fc.stringMatching(new RegExp(`^[0-9a-f]{${SHARD_HASH_CHARS}}$`));
    const v2 = index
      .map(({ shards: _, ...rest }) => rest)
      .chain((rest) => fc.array(hash, { minLength: 1, maxLength: 8 }).map((shards) => ({ ...rest, v: 2 as const, shards })));
    fc.assert(
      fc.property(v2, (i) => {
        expect(validate(IndexSchema, i)).toEqual({ value: i });
      }),
    );
    const h = "0".repeat(SHARD_HASH_CHARS);
    refuses(IndexSchema, v2, "shards", [[], 3, [h.slice(1)], [`${h}0`], [h.toUpperCase().replace(/0/g, "A")], [`../${h}`], [`${h.slice(3)}:x:`]]);
    // A v2 index with a shard count (the v1 shape) is refused, and so is a v1 index with a list.
    refuses(IndexSchema, index, "shards", [[h]]);
  });

  it("manifest shard: entries are checked, prototype keys are skipped", () => {
    const shards = fc.dictionary(fc.constantFrom("/a.html", "/b", "/x.js"), entry, { maxKeys: 4 });
    fc.assert(
      fc.property(shards, (s) => {
        expect(validate(ShardSchema, s)).toEqual({ value: s });
      }),
    );
    const e = { h: "ab", s: 1, t: "text/plain" };
    expect(validate(ShardSchema, JSON.parse(`{"__proto__": ${JSON.stringify(e)}, "/a": ${JSON.stringify(e)}}`))).toEqual({ value: { "/a": e } });
    expect(validate(ShardSchema, { "/a": { ...e, s: -1 } }).issues?.[0]?.path).toEqual(["/a", "s"]);
    expect(validate(ShardSchema, { "/a": { ...e, i: 2 } }).issues?.[0]?.path).toEqual(["/a", "i"]);
  });
});
