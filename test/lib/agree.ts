/**
 * Property-test helper: a lite Standard Schema validator (shared/kv/lite.ts)
 * and the valibot schema it stands in for must accept and reject the same
 * values, and produce the same output when they accept.
 */
import fc from "fast-check";
import { safeParse, type GenericSchema } from "valibot";
import { expect } from "vitest";
import type { Schema } from "../../shared/kv/index.ts";

/** Mostly `arb`, sometimes any value at all. */
export const noisy = <T>(arb: fc.Arbitrary<T>, clean = 12): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: clean, arbitrary: arb }, { weight: 1, arbitrary: fc.anything() });

/** An object of `model`: usually complete, sometimes with keys missing, sometimes with extra keys. */
export function noisyRecord<T extends Record<string, fc.Arbitrary<unknown>>>(model: T, optional: (keyof T & string)[] = [], clean = 10): fc.Arbitrary<unknown> {
  const required = Object.keys(model).filter((k) => !optional.includes(k)) as (keyof T & string)[];
  const full = fc.record(model, { requiredKeys: required });
  const partial = fc.record(model, { requiredKeys: [] });
  const extra = fc.dictionary(fc.string({ maxLength: 6 }), fc.anything(), { maxKeys: 2 });
  return fc.oneof(
    { weight: clean, arbitrary: full },
    { weight: 1, arbitrary: partial },
    { weight: 2, arbitrary: fc.tuple(full, extra).map(([a, b]) => ({ ...b, ...a })) },
    { weight: 1, arbitrary: fc.anything() },
  );
}

/** Asserts agreement on `numRuns` generated inputs. */
export function assertAgree(full: GenericSchema, lite: Schema<unknown>, arb: fc.Arbitrary<unknown>, numRuns = 500): { accepted: number; rejected: number } {
  const seen = { accepted: 0, rejected: 0 };
  fc.assert(
    fc.property(arb, (input) => {
      const v = safeParse(full, input);
      const r = lite["~standard"].validate(input);
      if (r instanceof Promise) throw new Error("lite validators are sync");
      expect(r.issues === undefined, `valibot ${v.success ? "accepts" : "rejects"} ${JSON.stringify(input)}`).toBe(v.success);
      if (v.success) {
        expect((r as { value: unknown }).value).toStrictEqual(v.output);
        seen.accepted++;
      } else seen.rejected++;
    }),
    { numRuns },
  );
  return seen;
}
