/** The Worker's lite read validators accept exactly what the CLI's valibot schemas accept. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IndexSchema, PointerSchema, ShardSchema } from "../../workers/site/schema.ts";
import { IndexShape, PointerShape, ShardShape } from "../../workers/site/shapes.ts";
import { REDIRECT_STATUS, TRAILING_SLASH } from "../../workers/site/model.ts";
import { assertAgree, noisy, noisyRecord } from "../lib/agree.ts";

const str = noisy(fc.string({ maxLength: 8 }));
const num = noisy(fc.oneof(fc.integer(), fc.double()));
const size = noisy(fc.oneof(fc.nat(), fc.integer({ min: -2, max: -1 }), fc.double({ min: -1, max: 10 })));
const one = noisy(fc.constantFrom(1, 2, "1"));
const strs = noisy(fc.array(str, { maxLength: 3 }));

const entry = noisyRecord({ h: str, s: size, t: str, z: noisyRecord({ br: size, gz: size }, ["br", "gz"]), i: one }, ["z", "i"]);
// The index has many fields: less noise per field, so that enough generated indexes are valid.
const q = <T>(a: fc.Arbitrary<T>) => noisy(a, 150);
const qs = q(fc.array(fc.string({ maxLength: 4 }), { maxLength: 2 }));
const qsize = q(
  fc.oneof({ weight: 20, arbitrary: fc.nat() }, { weight: 1, arbitrary: fc.integer({ min: -2, max: 0 }) }, { weight: 1, arbitrary: fc.double() }),
);
const qpattern = noisyRecord({ re: q(fc.string()), names: qs }, [], 60);
const index = noisyRecord(
  {
    v: q(fc.constantFrom(1, 1, 1, 2)),
    id: q(fc.string()),
    at: q(fc.double()),
    hash: q(fc.string()),
    files: qsize,
    bytes: qsize,
    shards: qsize,
    chunk: qsize,
    slash: q(fc.constantFrom(...TRAILING_SLASH, "sometimes")),
    spa: q(fc.string()),
    notFound: qs,
    redirects: q(
      fc.array(
        noisyRecord(
          { line: q(fc.integer()), from: q(fc.string()), pattern: qpattern, to: q(fc.string()), status: q(fc.constantFrom(...REDIRECT_STATUS, 404)) },
          ["pattern"],
          60,
        ),
        { maxLength: 2 },
      ),
    ),
    headers: q(
      fc.array(noisyRecord({ pattern: qpattern, set: q(fc.array(q(fc.tuple(fc.string(), fc.string(), fc.string())), { maxLength: 2 })), unset: qs }, [], 60), {
        maxLength: 2,
      }),
    ),
  },
  ["spa"],
  30,
);

describe("lite read validators agree with the valibot schemas", () => {
  it("pointer", () => {
    const r = assertAgree(PointerSchema, PointerShape, noisyRecord({ v: one, live: str, previous: strs, at: num }));
    expect(r.accepted).toBeGreaterThan(50);
    expect(r.rejected).toBeGreaterThan(50);
  });

  it("manifest shard", () => {
    const keys = fc.constantFrom("/a.html", "/b", "__proto__", "constructor", "prototype", "/x.js");
    const r = assertAgree(ShardSchema, ShardShape, noisy(fc.dictionary(keys, entry, { maxKeys: 4 })));
    expect(r.accepted).toBeGreaterThan(50);
    expect(r.rejected).toBeGreaterThan(50);
  });

  it("version index", () => {
    const r = assertAgree(IndexSchema, IndexShape, index, 1000);
    expect(r.accepted).toBeGreaterThan(20);
    expect(r.rejected).toBeGreaterThan(50);
  });
});
