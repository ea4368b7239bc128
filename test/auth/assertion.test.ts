// The identity assertion's signer and JWKS, in workerd: every signature is
// checked with Web Crypto's own verify against the key the JWKS publishes.
import { MIN_SECRET_BYTES } from "../../shared/http/secrets.ts";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fromBase64Url, toBase64Url } from "../../shared/crypto.ts";
import { HttpError } from "../../shared/http/errors.ts";
import {
  ASSERTION_HEADER,
  ASSERTION_TTL_SECONDS,
  generatePrivateJwk,
  jwkThumbprint,
  parseAssertionKeys,
  type AssertionClaims,
  type PublicJwk,
} from "../../workers/auth/assertion.ts";
import { gateConfig } from "../../workers/auth/config.ts";
import type { AuthEnv } from "../../workers/auth/env.ts";
import { depsFor } from "../../workers/auth/index.ts";
import { bearer, makeGate } from "./helpers.ts";

const decoder = new TextDecoder();
const json = (part: string) => JSON.parse(decoder.decode(fromBase64Url(part)!)) as Record<string, unknown>;

function split(jwt: string) {
  const [h, p, s] = jwt.split(".");
  return { header: json(h!), payload: json(p!) as unknown as AssertionClaims, input: `${h}.${p}`, sig: fromBase64Url(s!)! };
}

const PARAMS = {
  EdDSA: { imp: { name: "Ed25519" }, sig: { name: "Ed25519" } },
  ES256: { imp: { name: "ECDSA", namedCurve: "P-256" }, sig: { name: "ECDSA", hash: "SHA-256" } },
} as const;

/** Verifies with Web Crypto against the published JWK whose kid the header names. */
async function verifyWithJwks(jwt: string, jwks: { keys: PublicJwk[] }): Promise<boolean> {
  const { header, input, sig } = split(jwt);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk || jwk.alg !== header.alg) return false;
  const p = PARAMS[jwk.alg];
  const key = await crypto.subtle.importKey("jwk", jwk, p.imp, false, ["verify"]);
  return crypto.subtle.verify(p.sig, key, sig, new TextEncoder().encode(input));
}

const claims = (over: Partial<AssertionClaims> = {}): AssertionClaims => ({
  iss: "https://gate.test",
  sub: "alice",
  aud: "https://origin.test",
  iat: 1_700_000_000,
  exp: 1_700_000_000 + ASSERTION_TTL_SECONDS,
  jti: "j1",
  scope: "GET:/api/*",
  htm: "GET",
  htu: "https://origin.test/api/x?q=1",
  token_id: "0123456789ab",
  ...over,
});

const signerFor = (jwk: unknown) => parseAssertionKeys({ IDENTITY_PRIVATE_JWK: JSON.stringify(jwk) })!;
const publicOnly = ({ d: _d, ...pub }: Record<string, string>) => pub;

describe("asymmetric signer (EdDSA, ES256)", () => {
  for (const alg of ["EdDSA", "ES256"] as const) {
    it(`${alg}: round trip with Web Crypto verify; header alg/typ/kid; a changed payload fails`, async () => {
      const jwk = await generatePrivateJwk(alg);
      const signer = signerFor(jwk);
      const jwks = (await signer.jwks())!;
      const jwt = await signer.sign(claims());
      const { header, payload, sig } = split(jwt);
      expect(header).toEqual({ alg, typ: "JWT", kid: jwk.kid });
      expect(payload).toEqual(claims());
      expect(sig.length).toBe(64); // Ed25519, and ES256 as raw r||s (JWS), not DER
      expect(await verifyWithJwks(jwt, jwks)).toBe(true);
      // The same signature over another user's claims.
      const [h, , s] = jwt.split(".");
      const forged = `${h}.${toBase64Url(new TextEncoder().encode(JSON.stringify(claims({ sub: "root" }))))}.${s}`;
      expect(await verifyWithJwks(forged, jwks)).toBe(false);
    });
  }

  it("kid defaults to the RFC 7638 thumbprint (RFC 8037 A.3 vector); an explicit kid is kept", async () => {
    const rfc = { kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" };
    expect(await jwkThumbprint(rfc)).toBe("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    // RFC 8037 A.1's private key for that x.
    const signer = signerFor({ ...rfc, d: "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A" });
    const jwks = (await signer.jwks())!;
    expect(jwks.keys[0]!.kid).toBe("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    expect(split(await signer.sign(claims())).header.kid).toBe("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    const named = signerFor({ ...rfc, d: "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A", kid: "2026-12" });
    expect((await named.jwks())!.keys[0]!.kid).toBe("2026-12");
    const es = await generatePrivateJwk("ES256");
    const { kid: _kid, ...esNoKid } = es;
    expect((await signerFor(esNoKid).jwks())!.keys[0]!.kid).toBe(await jwkThumbprint({ kty: "EC", crv: "P-256", x: es.x!, y: es.y! }));
  });

  it("the JWKS never holds a private member, for one key or a set", async () => {
    const a = await generatePrivateJwk("EdDSA");
    const b = await generatePrivateJwk("ES256");
    for (const signer of [signerFor(a), signerFor(b), signerFor({ keys: [a, b] }), signerFor({ keys: [publicOnly(a), b] })]) {
      const jwks = (await signer.jwks())!;
      const text = JSON.stringify(jwks);
      expect(text).not.toMatch(/"d"/);
      expect(text).not.toContain(a.d);
      expect(text).not.toContain(b.d);
      for (const k of jwks.keys) {
        expect(Object.keys(k).sort()).toEqual(k.kty === "EC" ? ["alg", "crv", "kid", "kty", "use", "x", "y"] : ["alg", "crv", "kid", "kty", "use", "x"]);
        expect(k.use).toBe("sig");
      }
    }
  });

  it("rotation: a JWK Set publishes every key; the first private key signs, and both verify during the switch", async () => {
    const oldKey = await generatePrivateJwk("EdDSA");
    const newKey = await generatePrivateJwk("EdDSA");
    // Phase 1: the new key is published (public part only), the old one still signs.
    const phase1 = signerFor({ keys: [publicOnly(newKey), oldKey] });
    const jwks1 = (await phase1.jwks())!;
    expect(jwks1.keys.map((k) => k.kid).sort()).toEqual([oldKey.kid, newKey.kid].sort());
    const jwt1 = await phase1.sign(claims());
    expect(split(jwt1).header.kid).toBe(oldKey.kid);
    // Phase 2: the new key signs; a JWKS cached from phase 1 verifies it, and phase 2's still verifies phase 1's tokens.
    const phase2 = signerFor({ keys: [newKey, oldKey] });
    const jwks2 = (await phase2.jwks())!;
    const jwt2 = await phase2.sign(claims());
    expect(split(jwt2).header.kid).toBe(newKey.kid);
    expect(await verifyWithJwks(jwt2, jwks1)).toBe(true);
    expect(await verifyWithJwks(jwt1, jwks2)).toBe(true);
    // After: the old key is gone, its tokens no longer verify.
    const after = (await signerFor(newKey).jwks())!;
    expect(await verifyWithJwks(jwt1, after)).toBe(false);
    expect(await verifyWithJwks(jwt2, after)).toBe(true);
  });
});

describe("HS256 (IDENTITY_SECRET)", () => {
  it("round trip with Web Crypto HMAC verify; no kid; no JWKS", async () => {
    const secret = "x".repeat(MIN_SECRET_BYTES);
    const signer = parseAssertionKeys({ IDENTITY_SECRET: secret })!;
    expect(signer.alg).toBe("HS256");
    expect(await signer.jwks()).toBeNull();
    const jwt = await signer.sign(claims());
    const { header, payload, input, sig } = split(jwt);
    expect(header).toEqual({ alg: "HS256", typ: "JWT" });
    expect(payload.sub).toBe("alice");
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    expect(await crypto.subtle.verify("HMAC", key, sig, new TextEncoder().encode(input))).toBe(true);
    const other = await crypto.subtle.importKey("raw", new TextEncoder().encode(`${secret}y`), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    expect(await crypto.subtle.verify("HMAC", other, sig, new TextEncoder().encode(input))).toBe(false);
  });
});

describe("bad key material is a 500 misconfigured, never an unsigned request", () => {
  const base = { TOKENS_KV: env.TOKENS_KV, ORIGIN_URL: "http://origin.test" } as AuthEnv;
  const misconfigured = (vars: Partial<AuthEnv>): string => {
    try {
      gateConfig({ ...base, ...vars });
    } catch (err) {
      expect(err).toBeInstanceOf(HttpError);
      expect((err as HttpError).status).toBe(500);
      expect((err as HttpError).code).toBe("misconfigured");
      return (err as HttpError).message;
    }
    throw new Error("parseConfig accepted it");
  };

  it("refuses, at config parse, every malformed secret; the message never quotes the key", async () => {
    const good = await generatePrivateJwk("EdDSA");
    const es = await generatePrivateJwk("ES256");
    const cases: [string, Partial<AuthEnv>][] = [
      ["short HS256 secret", { IDENTITY_SECRET: "x".repeat(MIN_SECRET_BYTES - 1) }],
      ["both secrets", { IDENTITY_SECRET: "x".repeat(40), IDENTITY_PRIVATE_JWK: JSON.stringify(good) }],
      ["not JSON", { IDENTITY_PRIVATE_JWK: `{"d":"${good.d}",` }],
      ["a JSON string", { IDENTITY_PRIVATE_JWK: JSON.stringify("key") }],
      ["public key only", { IDENTITY_PRIVATE_JWK: JSON.stringify(publicOnly(good)) }],
      ["oct key", { IDENTITY_PRIVATE_JWK: JSON.stringify({ kty: "oct", k: good.d }) }],
      ["RSA key", { IDENTITY_PRIVATE_JWK: JSON.stringify({ kty: "RSA", n: "AQAB", e: "AQAB", d: good.d }) }],
      ["wrong curve", { IDENTITY_PRIVATE_JWK: JSON.stringify({ ...good, crv: "X25519" }) }],
      ["short d", { IDENTITY_PRIVATE_JWK: JSON.stringify({ ...good, d: good.d!.slice(0, 20) }) }],
      ["d not base64url", { IDENTITY_PRIVATE_JWK: JSON.stringify({ ...good, d: `${good.d!.slice(0, -1)}+` }) }],
      ["EC without y", { IDENTITY_PRIVATE_JWK: JSON.stringify({ ...es, y: undefined }) }],
      ["alg mismatch", { IDENTITY_PRIVATE_JWK: JSON.stringify({ ...good, alg: "ES256" }) }],
      ["alg none", { IDENTITY_PRIVATE_JWK: JSON.stringify({ ...good, alg: "none" }) }],
      ["use enc", { IDENTITY_PRIVATE_JWK: JSON.stringify({ ...good, use: "enc" }) }],
      ["empty set", { IDENTITY_PRIVATE_JWK: JSON.stringify({ keys: [] }) }],
      ["too many keys", { IDENTITY_PRIVATE_JWK: JSON.stringify({ keys: [good, good, good, good, good] }) }],
      ["duplicate kid", { IDENTITY_PRIVATE_JWK: JSON.stringify({ keys: [good, { ...es, kid: good.kid }] }) }],
      ["bad kid", { IDENTITY_PRIVATE_JWK: JSON.stringify({ ...good, kid: "a b" }) }],
      ["bad issuer", { IDENTITY_PRIVATE_JWK: JSON.stringify(good), ASSERTION_ISSUER: "has space" }],
    ];
    for (const [name, vars] of cases) {
      const msg = misconfigured(vars);
      expect(msg, name).not.toContain(good.d);
      expect(msg, name).not.toContain(es.d);
    }
  });

  it("a private key that does not match its public part: the request is 500 misconfigured and never reaches the origin", async () => {
    const a = await generatePrivateJwk("EdDSA");
    const b = await generatePrivateJwk("EdDSA");
    const g = makeGate({ IDENTITY_PRIVATE_JWK: JSON.stringify({ ...a, d: b.d }) });
    const { token } = await g.issue();
    const res = await g.fetch("/api/x", bearer(token));
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: string }).error).toBe("misconfigured");
    expect(g.received).toEqual([]);
    expect((await g.fetch("/__edgekv/jwks.json")).status).toBe(500);
  });
});

describe("through the gate", () => {
  it("every allowed request carries one assertion: iss, sub, aud, scope, iat, exp = iat + 60, jti, htm, htu with query; a client-sent one is replaced", async () => {
    const jwk = await generatePrivateJwk("EdDSA");
    const g = makeGate({ IDENTITY_PRIVATE_JWK: JSON.stringify(jwk) });
    const { token, record } = await g.issue({ user: "alice", scopes: ["DELETE:/api/*"] });
    const res = await g.fetch("/api/x?q=1&r=%20s", { method: "DELETE", ...bearer(token, { [ASSERTION_HEADER]: "client.sent.jwt" }) });
    expect(res.status).toBe(200);
    const jwt = g.received[0]!.headers[ASSERTION_HEADER]!;
    expect(jwt).not.toBe("client.sent.jwt");
    const jwks = (await (await g.fetch("/.well-known/jwks.json")).json()) as { keys: PublicJwk[] };
    expect(await verifyWithJwks(jwt, jwks)).toBe(true);
    const { payload } = split(jwt);
    const iat = Math.floor(g.clock.t / 1000);
    expect(payload).toEqual({
      iss: "https://gate.test",
      sub: "alice",
      aud: "http://origin.test",
      iat,
      exp: iat + ASSERTION_TTL_SECONDS,
      jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      scope: "DELETE:/api/*",
      htm: "DELETE",
      htu: "http://origin.test/api/x?q=1&r=%20s",
      token_id: record.id,
    });
    expect(payload.htu).toBe(g.received[0]!.url);
    // A fresh jti per request.
    await g.fetch("/api/x?q=1&r=%20s", { method: "DELETE", ...bearer(token) });
    expect(split(g.received[1]!.headers[ASSERTION_HEADER]!).payload.jti).not.toBe(payload.jti);
  });

  it("ORIGIN_URL with a path prefix: htu is the exact URL the origin receives (the old HMAC signature failed here)", async () => {
    const g = makeGate({ ORIGIN_URL: "http://127.0.0.1:8080/app/", IDENTITY_PRIVATE_JWK: JSON.stringify(await generatePrivateJwk("ES256")) });
    const { token } = await g.issue();
    await g.fetch("/api/items?page=2", bearer(token));
    const r = g.received[0]!;
    expect(r.url).toBe("http://127.0.0.1:8080/app/api/items?page=2");
    const { payload } = split(r.headers[ASSERTION_HEADER]!);
    expect(payload.htu).toBe(r.url);
    expect(payload.aud).toBe("http://127.0.0.1:8080");
  });

  it("ASSERTION_ISSUER and ASSERTION_AUDIENCE, when set, are the iss and aud", async () => {
    const g = makeGate({
      IDENTITY_SECRET: "s".repeat(MIN_SECRET_BYTES),
      ASSERTION_ISSUER: "https://auth.example.com",
      ASSERTION_AUDIENCE: "urn:edgekv:app",
    });
    const { token } = await g.issue();
    await g.fetch("/x", bearer(token));
    const { header, payload } = split(g.received[0]!.headers[ASSERTION_HEADER]!);
    expect(header.alg).toBe("HS256");
    expect(payload.iss).toBe("https://auth.example.com");
    expect(payload.aud).toBe("urn:edgekv:app");
  });

  it("public paths carry no assertion (and a client-sent one is stripped)", async () => {
    const g = makeGate({ IDENTITY_PRIVATE_JWK: JSON.stringify(await generatePrivateJwk("EdDSA")) });
    await g.fetch("/public/x", { headers: { [ASSERTION_HEADER]: "forged" } });
    expect(g.received[0]!.headers[ASSERTION_HEADER]).toBeUndefined();
  });

  it("JWKS at /__edgekv/jwks.json and /.well-known/jwks.json: public, cacheable, GET/HEAD only; 404 with HS256 or no key; never forwarded", async () => {
    const jwk = await generatePrivateJwk("EdDSA");
    const g = makeGate({ IDENTITY_PRIVATE_JWK: JSON.stringify(jwk) });
    for (const path of ["/__edgekv/jwks.json", "/.well-known/jwks.json", "//.well-known//jwks.json"]) {
      const res = await g.fetch(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/jwk-set+json");
      expect(res.headers.get("cache-control")).toBe("public, max-age=300");
      expect(((await res.json()) as { keys: PublicJwk[] }).keys.map((k) => k.kid)).toEqual([jwk.kid]);
    }
    expect((await g.fetch("/.well-known/jwks.json", { method: "HEAD" })).status).toBe(200);
    expect((await g.fetch("/.well-known/jwks.json", { method: "POST", body: "x" })).status).toBe(405);
    for (const vars of [{ IDENTITY_SECRET: "s".repeat(MIN_SECRET_BYTES) }, {}]) {
      const other = makeGate(vars);
      expect((await other.fetch("/.well-known/jwks.json")).status).toBe(404);
      expect((await other.fetch("/__edgekv/jwks.json")).status).toBe(404);
      expect(other.received).toEqual([]);
    }
    expect(g.received).toEqual([]);
  });
});

describe("no key set", () => {
  afterEach(() => vi.restoreAllMocks());

  it("forwards without an assertion and warns once per isolate", async () => {
    const g = makeGate();
    const { token } = await g.issue();
    await g.fetch("/x", bearer(token));
    expect(g.received[0]!.headers[ASSERTION_HEADER]).toBeUndefined();
    expect(g.received[0]!.headers["x-edgekv-user"]).toBeDefined();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const e = { ...env, ORIGIN_URL: "http://origin.test" } as AuthEnv;
    depsFor(e);
    depsFor(e);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toContain("without an identity assertion");
    depsFor({ ...e, IDENTITY_PRIVATE_JWK: JSON.stringify(await generatePrivateJwk("EdDSA")) });
    expect(warn).toHaveBeenCalledTimes(1);
  });
});
