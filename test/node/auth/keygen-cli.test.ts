// `edgekv token keygen`: the real binary prints a private JWK that jose and the
// gate's own parser accept, with its RFC 7638 thumbprint as kid.
import { SignJWT, calculateJwkThumbprint, importJWK, jwtVerify, type JWK } from "jose";
import { describe, expect, it } from "vitest";
import { parseAssertionKeys } from "../../../workers/auth/assertion.ts";
import { runCli } from "../helpers/cli.ts";

describe("edgekv token keygen", () => {
  for (const [args, alg, kty] of [
    [[], "EdDSA", "OKP"],
    [["--alg", "ES256"], "ES256", "EC"],
  ] as const) {
    it(`${alg}: one JSON line on stdout, a usable private key, kid = thumbprint, accepted as IDENTITY_PRIVATE_JWK`, async () => {
      const r = await runCli(["token", "keygen", ...args]);
      expect(r.code).toBe(0);
      expect(r.stdout.trim().split("\n")).toHaveLength(1);
      const jwk = JSON.parse(r.stdout) as JWK & { kid: string };
      expect(jwk).toMatchObject({ kty, alg, use: "sig" });
      expect(typeof jwk.d).toBe("string");
      const { d: _d, ...pub } = jwk;
      expect(jwk.kid).toBe(await calculateJwkThumbprint(pub));
      expect(r.stderr).toContain(jwk.kid);
      expect(r.stderr).not.toContain(jwk.d);
      const jwt = await new SignJWT({ sub: "x" }).setProtectedHeader({ alg }).sign(await importJWK(jwk, alg));
      expect((await jwtVerify(jwt, await importJWK(pub, alg))).payload.sub).toBe("x");
      expect(parseAssertionKeys({ IDENTITY_PRIVATE_JWK: r.stdout })?.alg).toBe(alg);
      // Two runs never print the same key.
      expect(JSON.parse((await runCli(["token", "keygen", ...args])).stdout).d).not.toBe(jwk.d);
    });
  }

  it("refuses another algorithm (usage error, nothing on stdout)", async () => {
    const r = await runCli(["token", "keygen", "--alg", "HS256"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
  });
});
