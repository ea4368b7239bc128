/**
 * The gate's identity assertion: a short-lived JWT (RFC 7519, compact JWS)
 * signed for each allowed request and sent in one header, as Cloudflare Access
 * does with `Cf-Access-Jwt-Assertion`. Origins check it with any JWT library
 * against the public keys the gate serves as a JWKS (EdDSA / ES256), or with
 * the shared secret (HS256). Plain Web Crypto: no JWT library in the Worker.
 */
import { MIN_SECRET_BYTES } from "../../shared/http/secrets.ts";
import { fromBase64Url, toBase64Url } from "../../shared/crypto.ts";
import { HttpError } from "../../shared/http/errors.ts";

/** The one header origins must trust; under x-edgekv-, so client-sent copies are always stripped. */
export const ASSERTION_HEADER = "x-edgekv-jwt-assertion";
/** exp = iat + this: long enough for clock skew and a slow origin, short enough to limit a replay. */
export const ASSERTION_TTL_SECONDS = 60;
/** Where the gate publishes its public keys (both answered by the gate itself, no token needed). */
export const JWKS_PATHS: readonly string[] = ["/__edgekv/jwks.json", "/.well-known/jwks.json"];
/** Cache lifetime of the JWKS response: a rotation is seen by origins within this. */
export const JWKS_CACHE_SECONDS = 300;
/** Keys in IDENTITY_PRIVATE_JWK: the signing key, the previous one, room for one more. */
export const MAX_IDENTITY_KEYS = 4;
const MAX_KID_CHARS = 128;
const JTI_BYTES = 16;

export type AsymmetricAlg = "EdDSA" | "ES256";
export type AssertionAlg = AsymmetricAlg | "HS256";

/** A public key as published in the JWKS: never a private member. */
export interface PublicJwk {
  kty: "OKP" | "EC";
  crv: "Ed25519" | "P-256";
  x: string;
  y?: string;
  kid: string;
  alg: AsymmetricAlg;
  use: "sig";
}

/** The payload origins verify. htm/htu are borrowed from DPoP (RFC 9449); unlike DPoP, htu keeps the query. */
export interface AssertionClaims {
  iss: string;
  sub: string;
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  /** Space-separated token scopes (OAuth style); "*" for an unrestricted token. */
  scope: string;
  /** The forwarded request's method. */
  htm: string;
  /** The exact URL the gate sends the request to, query included. */
  htu: string;
  /** The 12-hex id of the token (as in `edgekv token list`). */
  token_id: string;
}

/** One validated key from IDENTITY_PRIVATE_JWK (only the members the gate uses). */
interface KeyParts {
  alg: AsymmetricAlg;
  kty: "OKP" | "EC";
  crv: "Ed25519" | "P-256";
  x: string;
  y?: string;
  d?: string;
  kid?: string;
}

type KeyMaterial = { alg: "HS256"; secret: string } | { alg: AsymmetricAlg; keys: KeyParts[] };

// Spelled via typeof so this file type-checks under both Workers and Node types (the CLI uses it).
type Key = Awaited<ReturnType<typeof crypto.subtle.importKey>>;
interface Ready {
  key: Key;
  /** The JWS header, base64url-encoded once per isolate. */
  head: string;
  jwks: { keys: PublicJwk[] } | null;
}

const encoder = new TextEncoder();
const b64json = (v: unknown) => toBase64Url(encoder.encode(JSON.stringify(v)));
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const SIGN_PARAMS = {
  EdDSA: { name: "Ed25519" },
  ES256: { name: "ECDSA", hash: "SHA-256" },
  HS256: { name: "HMAC" },
} as const;
const IMPORT_PARAMS = {
  EdDSA: { name: "Ed25519" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
} as const;

/** A base64url member of exactly `bytes` bytes, or an error naming it (never its value). */
function b64Member(jwk: Record<string, unknown>, name: string, bytes: number, where: string): string {
  const v = jwk[name];
  const raw = typeof v === "string" ? fromBase64Url(v) : null;
  if (raw === null || raw.length !== bytes) throw new RangeError(`${where}: "${name}" must be ${bytes} bytes of base64url`);
  return v as string;
}

function parseKey(jwk: unknown, where: string): KeyParts {
  if (!isRecord(jwk)) throw new RangeError(`${where} is not a JSON object`);
  let alg: AsymmetricAlg;
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") alg = "EdDSA";
  else if (jwk.kty === "EC" && jwk.crv === "P-256") alg = "ES256";
  else throw new RangeError(`${where}: only Ed25519 (kty OKP) and P-256 (kty EC) keys are supported; for a shared secret use IDENTITY_SECRET`);
  // "Ed25519" is the fully-specified name (RFC 9864) some tools export; the JWS header says EdDSA.
  if (jwk.alg !== undefined && jwk.alg !== alg && !(alg === "EdDSA" && jwk.alg === "Ed25519")) {
    throw new RangeError(`${where}: "alg" must be ${alg} for this key`);
  }
  if (jwk.use !== undefined && jwk.use !== "sig") throw new RangeError(`${where}: "use" must be "sig"`);
  const key: KeyParts = { alg, kty: jwk.kty, crv: jwk.crv, x: b64Member(jwk, "x", 32, where) };
  if (alg === "ES256") key.y = b64Member(jwk, "y", 32, where);
  if (jwk.d !== undefined) key.d = b64Member(jwk, "d", 32, where);
  if (jwk.kid !== undefined) {
    if (typeof jwk.kid !== "string" || !new RegExp(`^[\\x21-\\x7e]{1,${MAX_KID_CHARS}}$`).test(jwk.kid)) {
      throw new RangeError(`${where}: "kid" must be 1..${MAX_KID_CHARS} printable ASCII characters`);
    }
    key.kid = jwk.kid;
  }
  return key;
}

/**
 * Reads the signing key from the two secrets; undefined when neither is set.
 * Throws a RangeError whose message names the problem, never the key.
 * IDENTITY_PRIVATE_JWK is one private JWK, or a JWK Set whose first private
 * key signs and whose every key's public part is published (rotation).
 * @example parseAssertionKeys({ IDENTITY_PRIVATE_JWK: '{"kty":"OKP","crv":"Ed25519","x":"..","d":".."}' })?.alg // "EdDSA"
 */
export function parseAssertionKeys(env: { IDENTITY_PRIVATE_JWK?: string; IDENTITY_SECRET?: string }): AssertionSigner | undefined {
  const jwkText = env.IDENTITY_PRIVATE_JWK?.trim();
  const secret = env.IDENTITY_SECRET;
  if (jwkText && secret) throw new RangeError("set IDENTITY_PRIVATE_JWK or IDENTITY_SECRET, not both");
  if (secret) {
    if (encoder.encode(secret).length < MIN_SECRET_BYTES) {
      throw new RangeError(`IDENTITY_SECRET must be at least ${MIN_SECRET_BYTES} bytes (e.g. openssl rand -base64 32)`);
    }
    return new AssertionSigner({ alg: "HS256", secret });
  }
  if (!jwkText) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(jwkText);
  } catch {
    // The parser's own message can quote the input, i.e. the private key.
    throw new RangeError('IDENTITY_PRIVATE_JWK is not valid JSON (a private JWK, or {"keys":[...]})');
  }
  const list = isRecord(parsed) && "keys" in parsed ? parsed.keys : [parsed];
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_IDENTITY_KEYS) {
    throw new RangeError(`IDENTITY_PRIVATE_JWK: "keys" must hold 1..${MAX_IDENTITY_KEYS} keys`);
  }
  const keys = list.map((k, i) => parseKey(k, list.length > 1 ? `IDENTITY_PRIVATE_JWK key ${i}` : "IDENTITY_PRIVATE_JWK"));
  const signer = keys.findIndex((k) => k.d !== undefined);
  if (signer < 0) throw new RangeError('IDENTITY_PRIVATE_JWK has no private key (member "d")');
  // The signing key goes first; the others are published for verification only.
  const ordered = [keys[signer]!, ...keys.filter((_, i) => i !== signer)];
  const kids = ordered.map((k) => k.kid).filter((k): k is string => k !== undefined);
  if (new Set(kids).size !== kids.length) throw new RangeError("IDENTITY_PRIVATE_JWK: two keys share a kid");
  return new AssertionSigner({ alg: ordered[0]!.alg, keys: ordered });
}

/**
 * RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key: the default kid.
 * @example await jwkThumbprint({ kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" }) // "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
 */
export async function jwkThumbprint(jwk: { kty: string; crv: string; x: string; y?: string }): Promise<string> {
  // Required members only, in lexicographic order, no whitespace.
  const canonical =
    jwk.kty === "EC" ? JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }) : JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return toBase64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(canonical))));
}

const publicParts = async (k: KeyParts): Promise<PublicJwk> => ({
  kty: k.kty,
  crv: k.crv,
  x: k.x,
  ...(k.y === undefined ? {} : { y: k.y }),
  kid: k.kid ?? (await jwkThumbprint(k)),
  alg: k.alg,
  use: "sig",
});

/**
 * Signs assertions with one key, imported once (per isolate, as the config
 * that holds it). A key that Web Crypto refuses, or whose private part does
 * not match its public part, is a 500 `misconfigured`, never an unsigned request.
 */
export class AssertionSigner {
  readonly alg: AssertionAlg;
  readonly #material: KeyMaterial;
  #ready: Promise<Ready> | undefined;

  constructor(material: KeyMaterial) {
    this.alg = material.alg;
    this.#material = material;
  }

  #load(): Promise<Ready> {
    this.#ready ??= this.#import().catch((err: unknown) => {
      this.#ready = undefined; // a later request tries again (and fails the same way, loudly)
      throw new HttpError(500, "misconfigured", "the identity signing key cannot be used (check IDENTITY_PRIVATE_JWK)", {}, { cause: err });
    });
    return this.#ready;
  }

  async #import(): Promise<Ready> {
    const m = this.#material;
    if (m.alg === "HS256") {
      const key = await crypto.subtle.importKey("raw", encoder.encode(m.secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      return { key, head: b64json({ alg: "HS256", typ: "JWT" }), jwks: null };
    }
    const published = await Promise.all(m.keys.map(publicParts));
    if (new Set(published.map((k) => k.kid)).size !== published.length) throw new RangeError("two keys share a kid");
    const first = m.keys[0]!;
    // Only the members Web Crypto needs (a stray key_ops or ext would make import fail).
    const base = { kty: first.kty, crv: first.crv, x: first.x, ...(first.y === undefined ? {} : { y: first.y }) };
    const params = IMPORT_PARAMS[m.alg];
    const key = await crypto.subtle.importKey("jwk", { ...base, d: first.d }, params, false, ["sign"]);
    // Prove d matches the published x/y once, so origins never get assertions they cannot verify.
    const pub = await crypto.subtle.importKey("jwk", base, params, false, ["verify"]);
    const probe = encoder.encode("edgekv key check");
    const sig = await crypto.subtle.sign(SIGN_PARAMS[m.alg], key, probe);
    if (!(await crypto.subtle.verify(SIGN_PARAMS[m.alg], pub, sig, probe))) throw new RangeError("the private key does not match its public part");
    return { key, head: b64json({ alg: m.alg, typ: "JWT", kid: published[0]!.kid }), jwks: { keys: published } };
  }

  /** The public JWK Set, or null for HS256 (nothing public to publish). */
  async jwks(): Promise<{ keys: PublicJwk[] } | null> {
    return (await this.#load()).jwks;
  }

  /**
   * The compact JWS of `claims`.
   * @example const jwt = await signer.sign({ iss, sub: "alice", aud, iat, exp: iat + 60, jti, scope: "*", htm: "GET", htu, token_id });
   */
  async sign(claims: AssertionClaims): Promise<string> {
    const { key, head } = await this.#load();
    const input = `${head}.${b64json(claims)}`;
    const sig = await crypto.subtle.sign(SIGN_PARAMS[this.alg], key, encoder.encode(input));
    return `${input}.${toBase64Url(new Uint8Array(sig))}`;
  }
}

/**
 * The claims for one forwarded request.
 * @example assertionClaims({ iss: "https://gate.example.com", aud: "https://app.internal", ... })
 */
export function assertionClaims(a: {
  iss: string;
  aud: string;
  user: string;
  scopes: string;
  tokenId: string;
  method: string;
  url: string;
  nowMs: number;
}): AssertionClaims {
  const iat = Math.floor(a.nowMs / 1000);
  return {
    iss: a.iss,
    sub: a.user,
    aud: a.aud,
    iat,
    exp: iat + ASSERTION_TTL_SECONDS,
    jti: toBase64Url(crypto.getRandomValues(new Uint8Array(JTI_BYTES))),
    scope: a.scopes,
    htm: a.method,
    htu: a.url,
    token_id: a.tokenId,
  };
}

/**
 * The gate's JWKS answer: public, cacheable; 404 when there are no public keys (HS256 or no key).
 * @example if (JWKS_PATHS.includes(path)) return jwksResponse(request.method, config.assertion);
 */
export async function jwksResponse(method: string, signer: AssertionSigner | undefined): Promise<Response> {
  const set = signer ? await signer.jwks() : null;
  if (!set) throw new HttpError(404, "not_found", "no public keys: the gate signs with a shared secret or not at all");
  if (method !== "GET" && method !== "HEAD") throw new HttpError(405, "method_not_allowed", "use GET or HEAD", { Allow: "GET, HEAD" });
  return new Response(JSON.stringify(set), {
    headers: { "Content-Type": "application/jwk-set+json", "Cache-Control": `public, max-age=${JWKS_CACHE_SECONDS}` },
  });
}

/**
 * A new private JWK (with its thumbprint as kid), for `edgekv token keygen` and `npm start`.
 * @example const jwk = await generatePrivateJwk("EdDSA"); // { kty: "OKP", crv: "Ed25519", x, d, kid, alg: "EdDSA", use: "sig" }
 */
export async function generatePrivateJwk(alg: AsymmetricAlg): Promise<Record<string, string>> {
  const pair = (await crypto.subtle.generateKey(IMPORT_PARAMS[alg], true, ["sign", "verify"])) as { privateKey: Key };
  const jwk: unknown = await crypto.subtle.exportKey("jwk", pair.privateKey);
  const parts = parseKey(jwk, "generated key");
  const out: Record<string, string> = { kty: parts.kty, crv: parts.crv, x: parts.x };
  if (parts.y !== undefined) out.y = parts.y;
  out.d = parts.d!;
  out.kid = await jwkThumbprint(parts);
  out.alg = alg;
  out.use = "sig";
  return out;
}
