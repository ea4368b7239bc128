// Attack class: forging or replaying the gate's identity assertion
// (`x-edgekv-jwt-assertion`, a JWT) to pose as a user at an origin.
// The origin here does what docs/auth.md tells operators to do: `jose`
// jwtVerify against the gate's JWKS with issuer, audience and algorithms
// pinned, then htm/htu must match the request it received (jti single use).
// Every forgery is sent straight to that origin (the attacker found it) unless
// the case is about the gate itself. An "evil" server hosts the attacker's
// JWKS: nobody may ever fetch it.
// Defence: workers/auth/assertion.ts (asymmetric signature, short exp, htm/htu),
// the gate stripping every client-sent x-edgekv-* header (strip.ts).
import { createHmac, createPublicKey } from "node:crypto";
import fc from "fast-check";
import { SignJWT, base64url, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatePrivateJwk } from "../../workers/auth/assertion.ts";
import { freePort } from "../node/helpers/ports.ts";
import { ASSERTION_HEADER, identityEnvFile, startVerifyingOrigin, type VerifyingOrigin } from "../node/helpers/verifying-origin.ts";
import { startWranglerDev, type DevServer } from "../node/helpers/wrangler-dev.ts";
import { issueToken, startOrigin, stateDir, type Origin } from "./helpers.ts";

let state: Awaited<ReturnType<typeof stateDir>>;
let gate: DevServer;
let app: VerifyingOrigin;
let evil: Origin;
let gateJwk: Record<string, string>;
let kid: string;
let alice: string;
let bob: string;
/** A genuine assertion the origin accepted for GET /api/data?x=1 (what an attacker could capture from origin logs). */
let captured: string;

const now = () => Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => base64url.encode(JSON.stringify(v));

beforeAll(async () => {
  state = await stateDir("assertion-forgery");
  const [gatePort, appPort] = [await freePort(), await freePort()];
  app = await startVerifyingOrigin({
    name: "app",
    issuer: `http://127.0.0.1:${gatePort}`,
    audience: `http://127.0.0.1:${appPort}`,
    publicPrefixes: ["/public"],
    port: appPort,
  });
  evil = await startOrigin("evil");
  gateJwk = await generatePrivateJwk("EdDSA");
  kid = gateJwk.kid!;
  alice = await issueToken(state.dir, ["--user", "alice"]);
  bob = await issueToken(state.dir, ["--user", "bob"]);
  gate = await startWranglerDev({
    env: "auth",
    persistTo: state.dir,
    port: gatePort,
    vars: { ORIGIN_URL: app.url, PUBLIC_PATHS: "/public/*" },
    envFile: await identityEnvFile(state.dir, gateJwk),
  });
  const res = await fetch(`${gate.url}/api/data?x=1`, { headers: { Authorization: `Bearer ${alice}` } });
  expect(res.status).toBe(200);
  captured = String(app.seen.at(-1)!.headers[ASSERTION_HEADER]);
  app.seen.length = 0;
}, 180_000);

afterAll(async () => {
  await gate?.stop();
  await Promise.all([app?.close(), evil?.close()]);
  await state?.remove();
});

/** Sends `jwt` (or nothing) straight to the origin; returns the origin's status and reason. */
async function atOrigin(jwt: string | undefined, path = "/api/data?x=1", method = "GET"): Promise<{ status: number; reason: string }> {
  const before = app.seen.length;
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers: { ...(jwt === undefined ? {} : { [ASSERTION_HEADER]: jwt }), "x-edgekv-user": "alice", "x-edgekv-scopes": "*" },
    body: method === "GET" || method === "HEAD" ? null : "x",
  });
  await res.arrayBuffer();
  expect(app.seen.length).toBe(before + 1);
  return { status: res.status, reason: app.seen.at(-1)!.reason };
}

/** Claims that would be right for GET `path` at the origin, right now. */
function claimsFor(path = "/api/data?x=1", method = "GET", over: JWTPayload = {}): JWTPayload {
  const iat = now();
  return {
    iss: gate.url,
    sub: "alice",
    aud: app.url,
    iat,
    exp: iat + 60,
    jti: base64url.encode(crypto.getRandomValues(new Uint8Array(16))),
    scope: "*",
    htm: method,
    htu: `${app.url}${path}`,
    ...over,
  };
}

/** Signs with the gate's real key: only the claims decide (to test each claim check alone). */
async function gateSigned(claims: JWTPayload): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: "EdDSA", typ: "JWT", kid }).sign(await importJWK(gateJwk as JWK, "EdDSA"));
}

function expectNoEvilFetch(): void {
  expect(evil.seen, "the attacker's JWKS server was contacted").toEqual([]);
}

describe("forged assertions sent straight to a jose-verifying origin are all rejected", () => {
  it("control: a correctly signed assertion for this exact request is accepted (so each rejection below is the forgery's)", async () => {
    expect(await atOrigin(await gateSigned(claimsFor()))).toMatchObject({ status: 200, reason: "verified" });
  });

  it("no assertion, an empty one, garbage, several JWTs in one header", async () => {
    for (const jwt of [undefined, "", "x", "a.b.c", `${captured}, ${captured}`, `Bearer ${captured}`, captured.split(".").slice(0, 2).join(".")]) {
      expect((await atOrigin(jwt)).status, String(jwt)).toBe(401);
    }
  });

  it('alg "none" in every spelling, with and without a signature', async () => {
    const sig = captured.split(".")[2]!;
    for (const alg of ["none", "None", "NONE", "nOnE"]) {
      for (const s of ["", sig]) {
        const jwt = `${b64({ alg, typ: "JWT", kid })}.${b64(claimsFor())}.${s}`;
        expect(await atOrigin(jwt), alg).toMatchObject({ status: 401 });
      }
    }
  });

  it("alg confusion: HS256/384/512 keyed with the gate's PUBLIC key in every form an attacker can get it", async () => {
    const jwks = (await (await fetch(`${gate.url}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
    const pub = jwks.keys[0]!;
    const keyObject = createPublicKey({ key: pub as never, format: "jwk" });
    const secrets: (string | Buffer)[] = [
      JSON.stringify(pub),
      JSON.stringify(jwks),
      pub.x!,
      Buffer.from(pub.x!, "base64url"),
      keyObject.export({ type: "spki", format: "pem" }),
      keyObject.export({ type: "spki", format: "der" }),
    ];
    for (const [alg, hash] of [
      ["HS256", "sha256"],
      ["HS384", "sha384"],
      ["HS512", "sha512"],
    ] as const) {
      for (const secret of secrets) {
        const input = `${b64({ alg, typ: "JWT", kid })}.${b64(claimsFor())}`;
        const jwt = `${input}.${createHmac(hash, secret).update(input).digest("base64url")}`;
        expect(await atOrigin(jwt), `${alg} keyed with ${String(secret).slice(0, 20)}`).toMatchObject({ status: 401 });
      }
    }
  });

  it("the attacker's own EdDSA/ES256 key: gate's kid, own kid, embedded `jwk`, `jku`/`x5u` to the attacker's JWKS (never fetched)", async () => {
    for (const alg of ["EdDSA", "ES256"] as const) {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const pubJwk = await exportJWK(publicKey);
      const ownKid = await calculateJwkThumbprint(pubJwk);
      const jku = `${evil.url}/.well-known/jwks.json`;
      const headers = [
        { alg, typ: "JWT", kid },
        { alg, typ: "JWT", kid: ownKid },
        { alg, typ: "JWT" },
        { alg, typ: "JWT", kid: ownKid, jwk: pubJwk },
        { alg, typ: "JWT", kid, jwk: pubJwk },
        { alg, typ: "JWT", kid: ownKid, jku },
        { alg, typ: "JWT", kid, jku },
        { alg, typ: "JWT", kid: ownKid, x5u: jku },
      ];
      for (const h of headers) {
        const jwt = await new SignJWT(claimsFor()).setProtectedHeader(h).sign(privateKey);
        expect(await atOrigin(jwt), JSON.stringify(h)).toMatchObject({ status: 401 });
      }
    }
    expectNoEvilFetch();
  });

  it("signed with the gate's key but wrong in one claim: expired, not yet valid, too old, wrong aud, wrong iss, missing htm/htu/jti", async () => {
    const t = now();
    const cases: [string, JWTPayload][] = [
      ["expired", claimsFor(undefined, undefined, { iat: t - 120, exp: t - 60 })],
      ["expired by a second", claimsFor(undefined, undefined, { iat: t - 61, exp: t - 1 })],
      ["iat far in the past, exp far ahead", claimsFor(undefined, undefined, { iat: t - 3600, exp: t + 3600 })],
      ["nbf in the future", claimsFor(undefined, undefined, { nbf: t + 3600 })],
      ["aud of another origin", claimsFor(undefined, undefined, { aud: "http://127.0.0.1:1" })],
      ["aud list without this origin", claimsFor(undefined, undefined, { aud: ["http://other.example"] })],
      ["iss of another gate", claimsFor(undefined, undefined, { iss: "http://evil.example" })],
      ["no htu", claimsFor(undefined, undefined, { htu: undefined })],
      ["no htm", claimsFor(undefined, undefined, { htm: undefined })],
      ["no jti", claimsFor(undefined, undefined, { jti: undefined })],
      ["no exp", claimsFor(undefined, undefined, { exp: undefined })],
    ];
    for (const [name, claims] of cases) {
      const clean = Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined));
      expect(await atOrigin(await gateSigned(clean)), name).toMatchObject({ status: 401 });
    }
    // A wrong typ, with everything else right.
    const typed = await new SignJWT(claimsFor()).setProtectedHeader({ alg: "EdDSA", typ: "at+jwt", kid }).sign(await importJWK(gateJwk as JWK, "EdDSA"));
    expect(await atOrigin(typed)).toMatchObject({ status: 401 });
  });

  it("a captured genuine assertion replayed to another path, method or query, or twice to the same request (property: any other request)", async () => {
    // The exact request it was made for: the origin already used its jti.
    expect(await atOrigin(captured)).toMatchObject({ status: 401, reason: "jti replayed" });
    const segment = fc.stringMatching(/^[a-z0-9._~-]{1,8}$/);
    const request = fc.record({
      method: fc.constantFrom("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"),
      path: fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => `/${s.join("/")}`),
      query: fc.option(fc.stringMatching(/^[a-z]{1,4}=[a-z0-9]{0,4}$/), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(request, async ({ method, path, query }) => {
        const target = `${path}${query === undefined ? "" : `?${query}`}`;
        fc.pre(!(method === "GET" && target === "/api/data?x=1"));
        const r = await atOrigin(captured, target, method);
        expect(r.status).toBe(401);
        expect(["htm mismatch", "htu mismatch", "jti replayed"]).toContain(r.reason);
      }),
      { numRuns: 40 },
    );
  });

  it("a genuine signature over tampered claims (property: any claim changed)", async () => {
    const [h, p, s] = captured.split(".") as [string, string, string];
    const original = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
    const change = fc.record({
      claim: fc.constantFrom("sub", "scope", "aud", "iss", "htm", "htu", "exp", "jti"),
      value: fc.oneof(fc.string({ maxLength: 20 }), fc.integer({ min: 0, max: 2 ** 32 })),
    });
    await fc.assert(
      fc.asyncProperty(change, async ({ claim, value }) => {
        fc.pre(original[claim] !== value);
        const forged = `${h}.${b64({ ...original, [claim]: value, htu: claim === "htu" ? value : `${app.url}/api/data?x=1`, jti: claim === "jti" ? value : "fresh" })}.${s}`;
        expect((await atOrigin(forged)).status).toBe(401);
      }),
      { numRuns: 40 },
    );
  });
});

describe("the gate replaces client-sent assertions", () => {
  it("bob sends alice's captured assertion through the gate: the origin sees bob's fresh assertion, never the client's", async () => {
    for (const name of [ASSERTION_HEADER, "X-Edgekv-Jwt-Assertion", "X-EDGEKV-JWT-ASSERTION"]) {
      const before = app.seen.length;
      const res = await fetch(`${gate.url}/api/data?x=1`, { headers: { Authorization: `Bearer ${bob}`, [name]: captured } });
      expect(res.status).toBe(200);
      const seen = app.seen.at(-1)!;
      expect(app.seen.length).toBe(before + 1);
      expect(seen.ok, seen.reason).toBe(true);
      expect(seen.sub).toBe("bob");
      expect(seen.headers[ASSERTION_HEADER]).not.toBe(captured);
    }
  });

  it("a client-sent assertion on a public path is stripped; on a protected path without a token nothing reaches the origin", async () => {
    const before = app.seen.length;
    const pub = await fetch(`${gate.url}/public/page`, { headers: { [ASSERTION_HEADER]: captured } });
    expect(pub.status).toBe(200);
    expect(app.seen.length).toBe(before + 1);
    expect(app.seen.at(-1)!.headers[ASSERTION_HEADER]).toBeUndefined();
    expect(app.seen.at(-1)!.sub).toBeUndefined();
    const denied = await fetch(`${gate.url}/api/data?x=1`, { headers: { [ASSERTION_HEADER]: captured, "x-edgekv-user": "alice" } });
    expect(denied.status).toBe(401);
    expect(app.seen.length).toBe(before + 1);
    expectNoEvilFetch();
  });
});
