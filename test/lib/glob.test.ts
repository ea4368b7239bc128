import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { anyGlob, compileGlob, MAX_GLOB_LENGTH } from "../../shared/http/glob.ts";

/** The semantics the matcher replaced: each `*` a regex `.*` (backtracking), everything else literal. */
function regexOracle(pattern: string): (path: string) => boolean {
  const source = pattern
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  const re = new RegExp(`^${source}$`, "s");
  return (path) => re.test(path);
}

describe("compileGlob", () => {
  it.each([
    ["/health", "/health", true],
    ["/health", "/health/x", false],
    ["/public/*", "/public/css/a.css", true],
    ["/public/*", "/public", false],
    ["/api/*/items", "/api/v1/items", true],
    ["/api/*/items", "/api/items", false],
    ["*.js", "/a/b.js", true],
    ["/a.b", "/aXb", false],
    ["*", "/anything", true],
    ["*", "", true],
    ["a*a", "a", false],
    ["a*a", "aa", true],
    ["/*/*/*.png", "/a/b/c.png", true],
    ["/*/*/*.png", "/a/b.png", false],
    ["/x**y", "/xy", true],
    ["*ab*ab*", "abab", true],
    ["*ab*ab*", "aba", false],
  ])("%s on %s -> %s", (glob, path, expected) => {
    expect(compileGlob(glob)(path)).toBe(expected);
  });

  it("treats regex characters literally", () => {
    expect(compileGlob("/(a|b)+")("/(a|b)+")).toBe(true);
    expect(compileGlob("/(a|b)+")("/a")).toBe(false);
    expect(compileGlob("/.*/[x]")("/.abc/[x]")).toBe(true);
    expect(compileGlob("/.*/[x]")("/abc/x")).toBe(false);
  });

  it("refuses empty and overlong globs", () => {
    expect(() => compileGlob("")).toThrow(RangeError);
    expect(() => compileGlob("*".repeat(MAX_GLOB_LENGTH + 1))).toThrow(RangeError);
  });

  it("anyGlob is true when one matches", () => {
    expect(anyGlob([compileGlob("/a"), compileGlob("/b/*")], "/b/c")).toBe(true);
    expect(anyGlob([], "/b/c")).toBe(false);
  });

  it("agrees with the regex semantics it replaced, for any glob and path", () => {
    // A small alphabet makes overlaps (the cases a greedy matcher gets wrong) frequent.
    const text = (max: number) => fc.string({ unit: fc.constantFrom("a", "b", "/", ".", "*"), maxLength: max });
    fc.assert(
      fc.property(
        text(12).filter((g) => g.length > 0),
        fc.string({ unit: fc.constantFrom("a", "b", "/", ".", "*", "\n"), maxLength: 16 }),
        (glob, path) => compileGlob(glob)(path) === regexOracle(glob)(path),
      ),
      { numRuns: 20_000 },
    );
  });

  it("answers hostile paths without backtracking (the old matcher would not return before the test timeout)", () => {
    // 8 KiB of separators against globs of many stars whose last literal never occurs:
    // with `.*` per star this is O(n^k) steps; here it is one left-to-right pass per literal.
    const path = `/${"a/".repeat(4096)}`;
    for (const glob of ["/*/*/*.png", `/${"*/".repeat(10)}*.png`, `*a*a*a*a*a*a*a*a*a*a*b`, `${"/*".repeat(10)}x`]) {
      expect(compileGlob(glob)(path)).toBe(false);
    }
    expect(compileGlob(`/${"*/".repeat(10)}*`)(path)).toBe(true);
  });
});
