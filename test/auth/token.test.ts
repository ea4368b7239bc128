import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../shared/crypto.ts";
import { crc32, generateToken, hashToken, isWellFormedToken, TOKEN_LENGTH, TOKEN_PREFIX } from "../../workers/auth/token.ts";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

describe("token format", () => {
  it("uses the IEEE CRC-32 (check value of '123456789')", () => {
    expect(crc32("123456789")).toBe(0xcbf43926);
  });

  it("generates prefixed, fixed-length, well-formed, distinct tokens", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const t = generateToken();
      expect(t.startsWith(TOKEN_PREFIX)).toBe(true);
      expect(t).toHaveLength(TOKEN_LENGTH);
      expect(t).toMatch(/^ekv_[0-9A-Za-z]{30}$/);
      expect(isWellFormedToken(t)).toBe(true);
      seen.add(t);
    }
    expect(seen.size).toBe(200);
  });

  it("spreads random characters over the whole alphabet", () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 300; i++) for (const c of generateToken().slice(4, 28)) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
  });

  it("property: random strings are never well-formed unless they have the shape and checksum", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        const ok = isWellFormedToken(s);
        if (ok) expect(s).toMatch(/^ekv_[0-9A-Za-z]{30}$/);
        return !ok || s.length === TOKEN_LENGTH;
      }),
      { numRuns: 2000 },
    );
  });

  it("property: a random body with a random checksum almost never passes; a correct one always does", () => {
    const body = fc.string({ unit: fc.constantFrom(...BASE62), minLength: 30, maxLength: 30 });
    let passed = 0;
    fc.assert(
      fc.property(body, (b) => {
        if (isWellFormedToken(TOKEN_PREFIX + b)) passed++;
      }),
      { numRuns: 2000 },
    );
    // 2000 tries against a 32-bit checksum: a pass would be a broken checksum.
    expect(passed).toBe(0);
  });

  it("property: round trip, and any single-character change of a valid token is rejected", () => {
    fc.assert(
      fc.property(fc.nat({ max: TOKEN_LENGTH - 1 }), fc.constantFrom(...BASE62, "_", "-", "é", " "), (pos, ch) => {
        const t = generateToken();
        expect(isWellFormedToken(t)).toBe(true);
        const mutated = t.slice(0, pos) + ch + t.slice(pos + 1);
        if (mutated !== t) expect(isWellFormedToken(mutated)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it("names a token by its SHA-256 and a 12-hex id", async () => {
    const t = generateToken();
    const { hash, id } = await hashToken(t);
    expect(hash).toBe(await sha256Hex(t));
    expect(id).toBe(hash.slice(0, 12));
    expect(hash).not.toContain(t);
  });
});
