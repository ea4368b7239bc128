import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BUCKETS, bucketOf, hash32, inCanary } from "../../workers/splitter/bucket.ts";

const percentArb = fc.integer({ min: 0, max: 10_000 }).map((n) => n / 100);

describe("bucketing", () => {
  it("is deterministic and in 0..9999 for any salt and id", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (salt, id) => {
        const b = bucketOf(salt, id);
        expect(Number.isInteger(b) && b >= 0 && b < BUCKETS).toBe(true);
        expect(bucketOf(salt, id)).toBe(b);
      }),
    );
  });

  it("hash32 is a 32-bit unsigned integer and depends on every character", () => {
    expect(hash32("abc")).not.toBe(hash32("abd"));
    expect(hash32("ab")).not.toBe(hash32("ba"));
    fc.assert(fc.property(fc.string(), (s) => hash32(s) >>> 0 === hash32(s)));
  });

  it("raising the percentage never moves anyone back to the live colour (monotonic ramp)", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), percentArb, percentArb, (salt, id, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const bucket = bucketOf(salt, id);
        if (inCanary(bucket, lo)) expect(inCanary(bucket, hi)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it("lowering the percentage removes the highest buckets first", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: BUCKETS - 1 }), percentArb, percentArb, (bucket, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        // Dropped when lowering hi -> lo means: in at hi, out at lo; those are exactly buckets >= lo*100.
        const dropped = inCanary(bucket, hi) && !inCanary(bucket, lo);
        expect(dropped).toBe(bucket >= Math.round(lo * 100) && bucket < Math.round(hi * 100));
      }),
    );
  });

  it("0% sends nobody, 100% everybody, 0.01% exactly bucket 0", () => {
    expect(inCanary(0, 0)).toBe(false);
    expect(inCanary(9999, 100)).toBe(true);
    expect(inCanary(0, 0.01)).toBe(true);
    expect(inCanary(1, 0.01)).toBe(false);
  });

  it.each([0.5, 10, 20, 33.33, 50, 80, 99.5])("over 100,000 distinct ids the split at %s%% is within 0.5 points", (percent) => {
    let n = 0;
    for (let i = 0; i < 100_000; i++) if (inCanary(bucketOf("salt-x", `user-${i}`), percent)) n++;
    expect(Math.abs(n / 1000 - percent)).toBeLessThan(0.5);
  });

  it("the split stays within 0.5 points for random salts and random id shapes (property)", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 16 }), fc.constantFrom(10, 20, 50, 80), fc.nat(1_000_000), (salt, percent, seed) => {
        let n = 0;
        for (let i = 0; i < 100_000; i++) if (inCanary(bucketOf(salt, (seed + i * 7919).toString(36)), percent)) n++;
        expect(Math.abs(n / 1000 - percent)).toBeLessThan(0.5);
      }),
      { numRuns: 10 },
    );
  });
});
