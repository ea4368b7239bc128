import { describe, expect, it } from "vitest";
import { fromBase64Url, hmacSha256, sha256Hex, timingSafeEqualStrings, toBase64Url, toHex, verifyHmacSha256 } from "../../shared/crypto.ts";

describe("shared/crypto", () => {
  it("sha256Hex matches the FIPS 180-2 vector", async () => {
    expect(await sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("hmacSha256 matches RFC 4231 test case 2", async () => {
    const mac = await hmacSha256("Jefe", "what do ya want for nothing?");
    expect(toHex(fromBase64Url(mac)!)).toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  });

  it("verifyHmacSha256 accepts the right signature and refuses a wrong or truncated one", async () => {
    const sig = await hmacSha256("k", "green");
    expect(await verifyHmacSha256("k", "green", sig)).toBe(true);
    expect(await verifyHmacSha256("k", "blue", sig)).toBe(false);
    expect(await verifyHmacSha256("other", "green", sig)).toBe(false);
    expect(await verifyHmacSha256("k", "green", sig.slice(0, -1))).toBe(false);
  });

  it("timingSafeEqualStrings compares content, including different lengths", async () => {
    expect(await timingSafeEqualStrings("secret", "secret")).toBe(true);
    expect(await timingSafeEqualStrings("secret", "secreT")).toBe(false);
    expect(await timingSafeEqualStrings("secret", "secret-longer")).toBe(false);
    expect(await timingSafeEqualStrings("", "")).toBe(true);
  });

  it("base64url round-trips and refuses foreign characters", () => {
    const bytes = new Uint8Array([0, 251, 255, 62, 63, 1]);
    const s = toBase64Url(bytes);
    expect(s).not.toMatch(/[+/=]/);
    expect(Array.from(fromBase64Url(s)!)).toEqual(Array.from(bytes));
    expect(fromBase64Url("a+b")).toBeNull();
  });
});
