// shared/signed-link.ts: one construction for preview links and tester overrides. A token
// verifies only for its secret, its context, its subject and expiry as signed, within the
// 30-day cap; every other string (tampered, foreign, over-long, oddly shaped) is null.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hmacSha256 } from "../../shared/crypto.ts";
import { CLOCK_SKEW_SECONDS, MAX_LINK_CHARS, MAX_LINK_SECONDS, signLink, verifyLink, type LinkContext } from "../../shared/signed-link.ts";
import { signPreview, verifyPreview } from "../../workers/site/preview.ts";
import { readOverride, signOverride } from "../../workers/splitter/override.ts";

const SECRET = "s".repeat(32);
const OTHER = "t".repeat(32);
const NOW_MS = 1_800_000_000_000;
const NOW = NOW_MS / 1000;
const CONTEXTS: LinkContext[] = ["edgekv-preview", "edgekv-override"];
const VERSION = "20261202T051200Z-1a2b3c4d";
const NAMES = { cookie: "edgekv_override", header: "x-edgekv-override" };

const subject = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const lifetime = fc.integer({ min: 1, max: MAX_LINK_SECONDS });

/** Replaces character `i` of `s` by another of the base64url alphabet. */
const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);

describe("signLink / verifyLink", () => {
  it("round-trips any subject, context and lifetime up to the cap", async () => {
    await fc.assert(
      fc.asyncProperty(subject, fc.constantFrom(...CONTEXTS), lifetime, async (s, ctx, ttl) => {
        const token = await signLink(SECRET, ctx, s, NOW + ttl);
        expect(token.length).toBeLessThanOrEqual(MAX_LINK_CHARS);
        expect(await verifyLink(SECRET, ctx, token, NOW_MS)).toBe(s);
      }),
      { numRuns: 60 },
    );
  });

  it("keeps the wire formats: <version|color>.<exp>.<43-character HMAC-SHA-256 of context:subject.exp>", async () => {
    const exp = NOW + 60;
    expect(await signPreview(SECRET, VERSION, exp)).toBe(`${VERSION}.${exp}.${await hmacSha256(SECRET, `edgekv-preview:${VERSION}.${exp}`)}`);
    expect(await signOverride(SECRET, "green", exp)).toBe(`green.${exp}.${await hmacSha256(SECRET, `edgekv-override:green.${exp}`)}`);
  });

  it("never lets a token of one context verify in the other (same secret, same subject)", async () => {
    await fc.assert(
      fc.asyncProperty(subject, lifetime, async (s, ttl) => {
        const preview = await signLink(SECRET, "edgekv-preview", s, NOW + ttl);
        const override = await signLink(SECRET, "edgekv-override", s, NOW + ttl);
        expect(preview).not.toBe(override);
        expect(await verifyLink(SECRET, "edgekv-override", preview, NOW_MS)).toBeNull();
        expect(await verifyLink(SECRET, "edgekv-preview", override, NOW_MS)).toBeNull();
      }),
      { numRuns: 30 },
    );
    // Through the Workers' own readers too.
    const exp = NOW + 600;
    const previewOfGreen = await signLink(SECRET, "edgekv-preview", "green", exp);
    expect(await readOverride(new Headers({ "x-edgekv-override": previewOfGreen }), NAMES, SECRET, NOW_MS)).toBeNull();
    const overrideOfVersion = await signLink(SECRET, "edgekv-override", VERSION, exp);
    expect(await verifyPreview(SECRET, overrideOfVersion, NOW_MS)).toBeNull();
  });

  it("refuses a change to any one character of any part", async () => {
    const token = await signLink(SECRET, "edgekv-override", "green", NOW + 3600);
    for (let i = 0; i < token.length; i++) {
      if (token[i] === ".") continue;
      const tampered = token[i] === "1" ? `${token.slice(0, i)}2${token.slice(i + 1)}` : flip(token, i);
      expect(await verifyLink(SECRET, "edgekv-override", tampered, NOW_MS), `position ${i}`).toBeNull();
    }
    const [s, exp, sig] = token.split(".") as [string, string, string];
    for (const t of [`blue.${exp}.${sig}`, `${s}.${Number(exp) + 1}.${sig}`, `${s}.${exp}.${sig.slice(0, -1)}`, `${s}.${exp}.${sig}A`]) {
      expect(await verifyLink(SECRET, "edgekv-override", t, NOW_MS), t).toBeNull();
    }
    expect(await verifyLink(OTHER, "edgekv-override", token, NOW_MS)).toBeNull();
  });

  it("expiry edges: valid up to the second before exp, refused at exp and after; clock NaN refuses", async () => {
    const exp = NOW + 100;
    const token = await signLink(SECRET, "edgekv-preview", VERSION, exp);
    expect(await verifyLink(SECRET, "edgekv-preview", token, (exp - 1) * 1000)).toBe(VERSION);
    expect(await verifyLink(SECRET, "edgekv-preview", token, exp * 1000 - 1)).toBe(VERSION);
    expect(await verifyLink(SECRET, "edgekv-preview", token, exp * 1000)).toBeNull();
    expect(await verifyLink(SECRET, "edgekv-preview", token, (exp + 1) * 1000)).toBeNull();
    expect(await verifyLink(SECRET, "edgekv-preview", token, Number.NaN)).toBeNull();
  });

  it("refuses a validly signed token that lives longer than the cap plus the clock skew", async () => {
    const edge = NOW + MAX_LINK_SECONDS + CLOCK_SKEW_SECONDS;
    expect(await verifyLink(SECRET, "edgekv-override", await signLink(SECRET, "edgekv-override", "blue", edge), NOW_MS)).toBe("blue");
    for (const exp of [edge + 1, NOW + 365 * 86400, 999_999_999_999]) {
      const token = await signLink(SECRET, "edgekv-override", "blue", exp);
      expect(await verifyLink(SECRET, "edgekv-override", token, NOW_MS), String(exp)).toBeNull();
      expect(await readOverride(new Headers({ "x-edgekv-override": token }), NAMES, SECRET, NOW_MS)).toBeNull();
    }
    const longPreview = await signLink(SECRET, "edgekv-preview", VERSION, edge + 1);
    expect(await verifyPreview(SECRET, longPreview, NOW_MS)).toBeNull();
  });

  it("refuses over-long tokens, extra or missing dots, non-canonical expiries and odd characters without signing anything", async () => {
    const good = await signLink(SECRET, "edgekv-override", "green", NOW + 3600);
    const [s, exp, sig] = good.split(".") as [string, string, string];
    const bad = [
      "",
      "green",
      `${s}.${exp}`,
      `${s}..${sig}`,
      `.${exp}.${sig}`,
      `${good}.`,
      `${good}.extra`,
      `x.${good}`,
      `${s}.${exp}.${sig}.${sig}`,
      `${s}.0${exp}.${sig}`, // leading zero: one expiry, one spelling
      `${s}.+${exp}.${sig}`,
      `${s}.${exp}.0.${sig}`,
      `${s}.${Number(exp).toExponential()}.${sig}`,
      `${s}.${exp}.${sig}==`,
      `${s}.${exp}.${sig.replace(/.$/, "+")}`,
      `${s} .${exp}.${sig}`,
      `${s}:x.${exp}.${sig}`,
      `${"g".repeat(65)}.${exp}.${sig}`,
      `${s}.${"9".repeat(13)}.${sig}`,
      "x".repeat(MAX_LINK_CHARS + 1),
      `${s}.${exp}.${sig}${"A".repeat(5000)}`,
      `grеen.${exp}.${sig}`, // Cyrillic е
    ];
    for (const t of bad) expect(await verifyLink(SECRET, "edgekv-override", t, NOW_MS), t.slice(0, 80)).toBeNull();
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 200 }), async (junk) => {
        expect(await verifyLink(SECRET, "edgekv-override", junk, NOW_MS)).toBeNull();
      }),
      { numRuns: 200 },
    );
  });

  it("refuses with no secret, and signs nothing it could not verify", async () => {
    const token = await signLink(SECRET, "edgekv-override", "green", NOW + 60);
    expect(await verifyLink(undefined, "edgekv-override", token, NOW_MS)).toBeNull();
    expect(await verifyLink("", "edgekv-override", token, NOW_MS)).toBeNull();
    for (const s of ["", "a.b", "a:b", "x".repeat(65), "../live", "é"]) {
      await expect(signLink(SECRET, "edgekv-override", s, NOW + 60), s).rejects.toThrow(RangeError);
    }
    for (const exp of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 1e12]) {
      await expect(signLink(SECRET, "edgekv-override", "green", exp), String(exp)).rejects.toThrow(RangeError);
    }
  });
});
