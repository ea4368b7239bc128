/**
 * The gate's configuration, read once per isolate from wrangler vars and
 * secrets (env.ts types them). A bad value fails every request with a clear
 * 500 (never a silent default that opens the gate).
 */
import { compileGlob, type GlobMatcher } from "../../shared/http/glob.ts";
import { HttpError } from "../../shared/http/errors.ts";
import { parseAssertionKeys, type AssertionSigner } from "./assertion.ts";
import { parseOriginBase, type OriginBase } from "../../shared/http/target.ts";
import { parseForwardedHost } from "../../shared/http/forward.ts";
import type { AuthEnv } from "./env.ts";

export const DEFAULT_REALM = "edgekv";
export const DEFAULT_ALLOW_CACHE_SECONDS = 10;
export const MAX_ALLOW_CACHE_SECONDS = 60;
/** Unknown hashes are held for less than allows, so a token issued elsewhere works quickly. */
export const NEGATIVE_CACHE_MS = 5_000;
export const CACHE_MAX_ENTRIES = 1_000;
/** KV edge cacheTtl for token reads (KV's minimum); counts in the revocation bound. */
export const KV_CACHE_TTL_SECONDS = 30;
export const DEFAULT_CORS_METHODS = "GET,HEAD,POST,PUT,PATCH,DELETE";
export const DEFAULT_CORS_HEADERS = "authorization,content-type";
export const DEFAULT_CORS_MAX_AGE = 600;
/** The window of the FAILED_AUTH_LIMITER binding (wrangler.toml `simple.period`), sent as Retry-After. */
export const RATE_LIMIT_PERIOD_SECONDS = 60;

export interface CorsPolicy {
  origins: ReadonlySet<string> | "*";
  methods: ReadonlySet<string>;
  headers: ReadonlySet<string>;
  maxAge: number;
}

export interface GateConfig {
  realm: string;
  publicPaths: GlobMatcher[];
  cookieName: string | undefined;
  /** Accept `?access_token=` (RFC 6750 section 2.3); off by default. */
  allowQueryToken: boolean;
  forwardAuthorization: boolean;
  /** Lowercase names stripped from every forwarded request besides x-edgekv-*. */
  stripHeaders: ReadonlySet<string>;
  /** FORWARDED_HOST: the X-Forwarded-Host of every forwarded request; undefined = the host the request reached. */
  forwardedHost: string | undefined;
  cors: CorsPolicy | undefined;
  /** Base URL of the origin (no query); undefined when the ORIGIN service binding is used. */
  originUrl: string | undefined;
  /** The same, parsed: every forwarded request goes to exactly this origin (shared/http/target.ts). */
  originBase: OriginBase | undefined;
  /** Accept `;` path parameters (ALLOW_PATH_PARAMS); refused by default. */
  allowPathParams: boolean;
  /** Signs the identity assertion; undefined = no key set (forwarded without one, warned once). */
  assertion: AssertionSigner | undefined;
  /** ASSERTION_ISSUER / ASSERTION_AUDIENCE when set (else derived per request, see identity.ts). */
  assertionIssuer: string | undefined;
  assertionAudience: string | undefined;
  allowCacheMs: number;
}

const list = (s: string | undefined) =>
  (s ?? "")
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
const bad = (message: string) => new HttpError(500, "misconfigured", message);

/**
 * Validates `env` into a GateConfig.
 * @example gateConfig({ ORIGIN_URL: "http://127.0.0.1:8080", PUBLIC_PATHS: "/health" } as AuthEnv)
 */
export function gateConfig(env: AuthEnv): GateConfig {
  const realm = env.REALM ?? DEFAULT_REALM;
  if (!/^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$/.test(realm)) throw bad("REALM must be 1..64 printable ASCII characters without quotes or backslashes");
  const originBase = parseOrigin(env);
  const cookieName = env.AUTH_COOKIE || undefined;
  if (cookieName !== undefined && !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/.test(cookieName)) throw bad("AUTH_COOKIE must be a cookie name token");
  const allowCacheSeconds = Number(env.ALLOW_CACHE_SECONDS ?? DEFAULT_ALLOW_CACHE_SECONDS);
  if (!Number.isFinite(allowCacheSeconds) || allowCacheSeconds < 0 || allowCacheSeconds > MAX_ALLOW_CACHE_SECONDS) {
    throw bad(`ALLOW_CACHE_SECONDS must be 0..${MAX_ALLOW_CACHE_SECONDS}`);
  }
  return {
    realm,
    publicPaths: parsePublicPaths(env.PUBLIC_PATHS),
    cookieName,
    allowQueryToken: env.ALLOW_QUERY_TOKEN === "true",
    forwardAuthorization: env.FORWARD_AUTHORIZATION === "true",
    stripHeaders: new Set(list(env.IDENTITY_HEADERS).map((h) => h.toLowerCase().replace(/_/g, "-"))),
    forwardedHost: parseHost(env.FORWARDED_HOST),
    cors: parseCors(env, cookieName),
    originUrl: originBase && originBase.origin + originBase.prefix,
    originBase,
    allowPathParams: env.ALLOW_PATH_PARAMS === "true",
    ...parseAssertion(env),
    allowCacheMs: allowCacheSeconds * 1000,
  };
}

function parseHost(raw: string | undefined): string | undefined {
  try {
    return parseForwardedHost(raw);
  } catch (err) {
    throw bad((err as Error).message);
  }
}

/** ORIGIN_URL, parsed; undefined when the ORIGIN service binding is used. */
function parseOrigin(env: AuthEnv): OriginBase | undefined {
  if (env.ORIGIN) return undefined;
  if (!env.ORIGIN_URL) throw bad("set ORIGIN_URL (http(s)://host[:port][/prefix]) or bind a service named ORIGIN");
  try {
    return parseOriginBase(env.ORIGIN_URL);
  } catch {
    throw bad("ORIGIN_URL must be http(s)://host[:port][/prefix], without credentials, query or fragment");
  }
}

function parsePublicPaths(raw: string | undefined): GlobMatcher[] {
  try {
    return list(raw).map((g) => {
      if (!g.startsWith("/")) throw new RangeError(`"${g}" does not start with /`);
      return compileGlob(g);
    });
  } catch (err) {
    throw bad(`PUBLIC_PATHS: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The identity assertion's signer and its iss/aud overrides. */
function parseAssertion(env: AuthEnv): Pick<GateConfig, "assertion" | "assertionIssuer" | "assertionAudience"> {
  let assertion: AssertionSigner | undefined;
  try {
    assertion = parseAssertionKeys(env);
  } catch (err) {
    throw bad(err instanceof Error ? err.message : "bad identity key");
  }
  for (const name of ["ASSERTION_ISSUER", "ASSERTION_AUDIENCE"] as const) {
    const v = env[name];
    if (v && !/^[\x21-\x7e]{1,256}$/.test(v)) throw bad(`${name} must be 1..256 printable ASCII characters without spaces`);
  }
  return { assertion, assertionIssuer: env.ASSERTION_ISSUER || undefined, assertionAudience: env.ASSERTION_AUDIENCE || undefined };
}

/** The CORS policy, or undefined without CORS_ALLOW_ORIGINS. */
function parseCors(env: AuthEnv, cookieName: string | undefined): CorsPolicy | undefined {
  const origins = list(env.CORS_ALLOW_ORIGINS);
  if (!origins.length) return undefined;
  const maxAge = Number(env.CORS_MAX_AGE ?? DEFAULT_CORS_MAX_AGE);
  if (!Number.isInteger(maxAge) || maxAge < 0 || maxAge > 86400) throw bad("CORS_MAX_AGE must be 0..86400");
  if (origins.includes("*") && cookieName) throw bad('CORS_ALLOW_ORIGINS "*" cannot be used with AUTH_COOKIE (credentialed CORS needs explicit origins)');
  return {
    origins: origins.includes("*") ? "*" : new Set(origins),
    methods: new Set(list(env.CORS_ALLOW_METHODS ?? DEFAULT_CORS_METHODS).map((m) => m.toUpperCase())),
    headers: new Set(list(env.CORS_ALLOW_HEADERS ?? DEFAULT_CORS_HEADERS).map((h) => h.toLowerCase())),
    maxAge,
  };
}
