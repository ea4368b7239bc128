/** The gate's lite token-record validator accepts exactly what the valibot schema (used for every write) accepts. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TokenRecordShape } from "../../workers/auth/shape.ts";
import { TokenRecordSchema } from "../../cli/token/store.ts";
import { assertAgree, noisy, noisyRecord } from "../lib/agree.ts";

const mostly = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>) => noisy(fc.oneof({ weight: 8, arbitrary: good }, { weight: 1, arbitrary: bad }), 100);
const hex = fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 12, maxLength: 12 });
const scope = mostly(
  fc.constantFrom("GET:/api/*", "*:/admin/*", "POST:/x", `GET:/${"a".repeat(123)}`),
  fc.constantFrom("get:/x", "GET /x", "GET:/a,b", `GET:/${"a".repeat(124)}`, "GET:x"),
);
const record = noisyRecord(
  {
    id: mostly(hex, fc.constantFrom("ABCDEF012345", "abc", "0123456789abc")),
    user: mostly(fc.constantFrom("alice", "bob@example.com", "a".repeat(128)), fc.constantFrom("", "a b", "a/b", "a".repeat(129))),
    scopes: mostly(fc.array(scope, { maxLength: 3 }), fc.array(scope, { minLength: 33, maxLength: 34 })),
    issuedAt: mostly(fc.nat(), fc.constantFrom(-1, 1.5)),
    expiresAt: mostly(fc.nat(), fc.constantFrom(-1, 1.5)),
    label: mostly(fc.constantFrom("", "laptop", "x".repeat(100)), fc.constantFrom("x".repeat(101), "a\nb", "\u007f")),
  },
  [],
  30,
);

describe("TokenRecordShape (lite) agrees with TokenRecordSchema (valibot)", () => {
  it("on generated records", () => {
    const r = assertAgree(TokenRecordSchema, TokenRecordShape, record, 1000);
    expect(r.accepted).toBeGreaterThan(50);
    expect(r.rejected).toBeGreaterThan(50);
  });
});
