/**
 * The token record's one schema (workers/auth/model.ts), used by the gate, its admin
 * API and the CLI: generated valid records pass unchanged, and each invalid field is
 * refused with a message for that field.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TokenRecordSchema } from "../../workers/auth/model.ts";

const validate = (v: unknown) => {
  const r = TokenRecordSchema["~standard"].validate(v);
  if (r instanceof Promise) throw new Error("lite schemas are synchronous");
  return r;
};
const hex = fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 12, maxLength: 12 });
const scope = fc.constantFrom("GET:/api/*", "*:/admin/*", "POST:/x", `GET:/${"a".repeat(123)}`);
const valid = fc.record({
  id: hex,
  user: fc.constantFrom("alice", "bob@example.com", "a".repeat(128)),
  scopes: fc.array(scope, { maxLength: 32 }),
  issuedAt: fc.nat(),
  expiresAt: fc.nat(),
  label: fc.constantFrom("", "laptop", "x".repeat(100)),
});

/** Invalid values of each field. */
const invalid: [field: string, values: unknown[]][] = [
  ["id", ["ABCDEF012345", "abc", "0123456789abc", 12]],
  ["user", ["", "a b", "a/b", "a".repeat(129), null]],
  ["scopes", [Array.from({ length: 33 }, () => "GET:/x"), "GET:/x"]],
  ["scopes.0", [["get:/x"], ["GET /x"], ["GET:/a,b"], [`GET:/${"a".repeat(124)}`], ["GET:x"]]],
  ["issuedAt", [-1, 1.5, "1"]],
  ["expiresAt", [-1, 1.5, Number.NaN]],
  ["label", ["x".repeat(101), "a\nb", "\u007f", 1]],
];

describe("TokenRecordSchema, the one schema of a token record", () => {
  it("accepts every generated valid record as it is, and drops unknown keys", () => {
    fc.assert(
      fc.property(valid, (record) => {
        expect(validate(record)).toEqual({ value: record });
        expect(validate({ ...record, extra: 1 })).toEqual({ value: record });
      }),
    );
  });

  it.each(invalid)("refuses an invalid %s, naming it", (field, values) => {
    fc.assert(
      fc.property(valid, fc.constantFrom(...values), (record, bad) => {
        const [top, index] = field.split(".");
        const r = validate({ ...record, [top!]: bad });
        expect(r.issues?.length).toBe(1);
        const path = r.issues![0]!.path!.map(String);
        expect(path.slice(0, index === undefined ? 1 : 2)).toEqual(field.split("."));
        expect(r.issues![0]!.message).not.toBe("");
      }),
      { numRuns: 50 },
    );
  });

  it("keeps the CLI's messages", () => {
    const base = { id: "0123456789ab", user: "alice", scopes: [], issuedAt: 0, expiresAt: 0, label: "" };
    expect(validate({ ...base, user: "a b" }).issues?.[0]?.message).toBe("user must be 1..128 of A-Z a-z 0-9 . _ @ + : = -");
    expect(validate({ ...base, scopes: ["get:/x"] }).issues?.[0]?.message).toBe("a scope is METHOD:/glob, e.g. GET:/api/*");
    expect(validate({ ...base, label: "a\nb" }).issues?.[0]?.message).toBe("label may not contain control characters");
  });
});
