/**
 * The README's GitHub custom pattern and gitleaks rule for `ekv_` tokens
 * (issue 24), read from the README itself: they match every issued token and
 * every random string of the same shape; only the checksum tells them apart.
 */
import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { generateToken, isWellFormedToken, TOKEN_LENGTH } from "../../workers/auth/token.ts";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const cell = (name: string) => {
  const m = new RegExp(`^\\| ${name} \\| \`(.+)\` \\|$`, "m").exec(readme);
  if (!m) throw new Error(`README has no "${name}" row`);
  return m[1]!.replace(/\\\|/g, "|");
};
/** GitHub's Before/After fields as a JS regex (\A and \z are Go's start and end of text). */
const github = new RegExp(`(?:${cell("Before secret").replace("\\A", "^")})(${cell("Secret format")})(?:${cell("After secret").replace("\\z", "$")})`, "g");
const gitleaksSource = /^regex = '''(.+)'''$/m.exec(readme)?.[1];
const gitleaks = new RegExp(gitleaksSource ?? "(?!)", "g");

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const lookAlike = () => `ekv_${Array.from({ length: TOKEN_LENGTH - 4 }, () => BASE62[randomInt(62)]).join("")}`;
const contexts = (t: string) => [t, `TOKEN=${t}`, `"${t}"`, `Authorization: Bearer ${t}\n`, `x ${t}.`, `'${t}',`];
const found = (re: RegExp, text: string) => [...text.matchAll(re)].map((m) => m[1]);

describe("README leak patterns", () => {
  it("are present", () => {
    expect(gitleaksSource).toBeDefined();
    expect(cell("Secret format")).toBe("ekv_[0-9A-Za-z]{30}");
  });

  it("match every issued token, in every context, exactly", () => {
    for (let i = 0; i < 200; i++) {
      const t = generateToken();
      for (const text of contexts(t)) {
        expect(found(github, text), text).toEqual([t]);
        expect(found(gitleaks, text), text).toEqual([t]);
      }
    }
  });

  it("match random strings of the same shape too, which the checksum refuses", () => {
    let accepted = 0;
    for (let i = 0; i < 2000; i++) {
      const s = lookAlike();
      expect(found(github, `k=${s}`)).toEqual([s]);
      expect(found(gitleaks, `k=${s}`)).toEqual([s]);
      if (isWellFormedToken(s)) accepted++;
    }
    // One in 62^6: 2,000 tries all refused (a real failure here is ~3e-8 likely).
    expect(accepted).toBe(0);
  });

  it("do not match other shapes: too short, too long, glued to a word, another prefix", () => {
    const t = generateToken();
    for (const text of [t.slice(0, -1), `${t}A`, `x${t}`, `${t}_x`, t.replace("ekv_", "ekw_"), t.replace("ekv_", "EKV_"), `ekv_${"-".repeat(30)}`]) {
      expect(found(github, text), text).toEqual([]);
      expect(found(gitleaks, text), text).toEqual([]);
    }
  });
});
