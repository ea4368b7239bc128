// The one output filter (cli/output.ts): what it escapes, what it keeps, and that `--json`
// stays valid and lossless through it. The end-to-end attack suite is
// test/security/cli-output-injection.test.ts.
import { describe, expect, it } from "vitest";
import { markedStyle, oneLine, registerSecret, safeText, table, type Style } from "../../../cli/output.ts";

/** One character of each class the filter escapes. */
const UNSAFE_CHARS = [
  "\u0000",
  "\u0007",
  "\u0008",
  "\u001b",
  "\r",
  "\u007f",
  "\u0085",
  "\u009b",
  "\u00ad",
  "\u061c",
  "\u200b",
  "\u200d",
  "\u200e",
  "\u2028",
  "\u2029",
  "\u202a",
  "\u202e",
  "\u2066",
  "\u2069",
  "\ufeff",
  "\u{e0041}",
  "\ud800",
];
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

describe("safeText", () => {
  it("escapes every control, format and bidi character as \\uXXXX; keeps tab and newline only in multi-line text", () => {
    for (const c of UNSAFE_CHARS) {
      expect(safeText(`a${c}b`), JSON.stringify(c)).not.toMatch(UNSAFE);
      expect(safeText(`a${c}b`, { multiline: true }), JSON.stringify(c)).not.toMatch(UNSAFE);
    }
    expect(safeText("a\u001b]0;pwned\u0007b")).toBe("a\\u001b]0;pwned\\u0007b");
    expect(safeText("a\nb\tc")).toBe("a\\u000ab\\u0009c");
    expect(safeText("a\nb\tc\r\nd\re", { multiline: true })).toBe("a\nb\tc\r\nd\\u000de");
    expect(safeText("plain ekv_token-like 0123 ü 日本 😀")).toBe("plain ekv_token-like 0123 ü 日本 😀");
  });

  it("JSON passed through it stays valid and parses to the same data", () => {
    const data = { key: UNSAFE_CHARS.join("x"), nested: [`k${UNSAFE_CHARS.join("")}`], "name\u202e\u009b": 1 };
    for (const text of [JSON.stringify(data), JSON.stringify(data, null, 2)]) {
      const out = safeText(text, { multiline: true });
      expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/);
      expect(JSON.parse(out)).toEqual(data);
    }
  });

  it("redacts a registered secret verbatim, JSON-escaped, percent-encoded and hidden by invisible characters", () => {
    const secret = 'sec"ret/+=\\value-0123456789';
    registerSecret(secret);
    for (const shown of [secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret), encodeURIComponent(secret).toLowerCase()]) {
      expect(safeText(`x ${shown} y`)).toBe("x [redacted] y");
    }
    expect(safeText(`x ${secret.split("").join("\u200b")} y`)).toBe("x [redacted] y");
    expect(JSON.parse(safeText(JSON.stringify({ v: `a${secret}b` })))).toEqual({ v: "a[redacted]b" });
    registerSecret("short");
    expect(safeText("a short text")).toBe("a short text");
  });
});

describe("the CLI's own colour", () => {
  const red: Style = (format, text) => (format === "red" ? `\u001b[31m${text}\u001b[39m` : text);

  it("only codes made by markedStyle survive; the same codes inside the text are escaped", () => {
    const style = markedStyle(red);
    expect(safeText(`${style("red", "edgekv:")} \u001b[31mfake\u001b[2J`)).toBe("\u001b[31medgekv:\u001b[39m \\u001b[31mfake\\u001b[2J");
    expect(safeText(style("red", "\u001b]0;x\u0007"))).toBe("\u001b[31m\\u001b]0;x\\u0007\u001b[39m");
  });

  it("table cells are one line each, and a styled header keeps its colour", () => {
    const out = safeText(
      table(
        ["A", "B"],
        [["x\ny", "\u001b[2J"]],
        markedStyle((_f, t) => `\u001b[1m${t}\u001b[22m`),
      ),
      { multiline: true },
    );
    expect(out.split("\n")).toHaveLength(2);
    expect(out).toContain("x\\u000ay");
    expect(out.startsWith("\u001b[1m")).toBe(true);
    expect(oneLine("a\r\nb")).toBe("a\\u000d\\u000ab");
  });
});
