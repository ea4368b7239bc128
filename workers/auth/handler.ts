/**
 * The gate's decision for one request, as a plain function of (request, deps).
 * Order matters: path first (decisions use the real, normalised path), then
 * the JWKS, CORS preflight, public paths, credential, offline token check,
 * KV lookup (fails closed), expiry, scope. Only an allow reaches the origin.
 */
import { HttpError, toErrorResponse } from "../../shared/http/errors.ts";
import { anyGlob } from "../../shared/http/glob.ts";
import { normalizePath } from "../../shared/http/path.ts";
import { IsolateCache, KvOps, type KvBinding } from "../../shared/kv/read.ts";
import { CACHE_MAX_ENTRIES, KV_CACHE_TTL_SECONDS, NEGATIVE_CACHE_MS, type GateConfig } from "./config.ts";
import { JWKS_PATHS, jwksResponse } from "./assertion.ts";
import { extractCredential, type Credential } from "./credential.ts";
import { buildOriginRequest, identityOf } from "./identity.ts";
import { clientKey, tooManyFailures, type FailureLimiter } from "../../shared/http/limiter.ts";
import { scopeAllows } from "./scope.ts";
import { boundSocket, MAX_SOCKET_SECONDS } from "./socket.ts";
import { TokenReader, type TokenRecord } from "./store.ts";
import { hashToken, isWellFormedToken } from "./token.ts";

/**
 * Query parameter names servers read as the request's method, case folded (docs/security.md
 * "Method overrides: who reads them where"): `_method` (Laravel and Symfony, Spring's
 * HiddenHttpMethodFilter, Express method-override with a key) and `X-HTTP-Method-Override`
 * and kin (ASP.NET MVC 5 reads it from the query).
 */
const OVERRIDE_NAME = /^(_|x-http-)method$|^x-(http-)?method-override$/;
// The cheap test before reading the query: each spelling of those names holds "method" or a percent-escape.
const OVERRIDE_RE = /method|%/i;

export interface Deps {
  config: GateConfig;
  tokens: TokenReader;
  /** Sends the forwarded request to the origin (ORIGIN binding or fetch). */
  origin: (request: Request) => Promise<Response>;
  limiter: FailureLimiter | undefined;
  now: () => number;
  /** One JSON line per decision. */
  log: (line: string) => void;
}

/** The log line of one request: the decision and its reason; never the token. */
export interface DecisionLog {
  msg: "edgekv-auth";
  decision: "allow" | "public" | "deny" | "preflight" | "error";
  reason: string;
  status?: number;
  user?: string;
  token?: string;
  method: string;
  path: string;
}

/**
 * The token store the gate uses: isolate cache for allows (never past the
 * token's expiry), a shorter one for unknown hashes, bounded, no stale-on-error.
 * @example const tokens = gateTokenStore(env.TOKENS_KV, config, Date.now);
 */
export function gateTokenStore(kv: KvBinding, config: GateConfig, now: () => number): TokenReader {
  return new TokenReader(kv, {
    now,
    cacheTtl: KV_CACHE_TTL_SECONDS,
    ttlMs: (r) => Math.min(config.allowCacheMs, r.expiresAt - now()),
    negativeTtlMs: Math.min(NEGATIVE_CACHE_MS, config.allowCacheMs),
    maxEntries: CACHE_MAX_ENTRIES,
  });
}

// Token -> its hash, in this isolate's memory only (never written anywhere): a repeated
// token skips the checksum and the SHA-256 (only a well-formed token is ever held). The
// library's bounded LRU (shared/kv/cache.ts), sized like the record cache.
const hashes = new IsolateCache<{ hash: string; id: string }, null>(CACHE_MAX_ENTRIES);

function challenge(realm: string, error?: string, description?: string, scope?: string): Record<string, string> {
  let v = `Bearer realm="${realm}"`;
  if (error) v += `, error="${error}", error_description="${description}"`;
  if (scope) v += `, scope="${scope}"`;
  return { "WWW-Authenticate": v };
}

/**
 * Decides and answers one request.
 * @example const res = await handle(request, { config, tokens, origin: fetch, limiter: undefined, now: Date.now, log: console.log });
 */
export async function handle(request: Request, deps: Deps): Promise<Response> {
  const ops = new KvOps();
  const url = new URL(request.url);
  const d: DecisionLog = { msg: "edgekv-auth", decision: "deny", reason: "", method: request.method, path: url.pathname };
  let res: Response;
  try {
    res = await decide(request, url, deps, ops, d);
  } catch (err) {
    if (err instanceof HttpError && err.status < 500) d.reason ||= err.message;
    else {
      // Fail closed: a store or origin failure is never an allow.
      d.decision = "error";
      d.reason = err instanceof Error ? err.name : "error";
    }
    res = toErrorResponse(err, challenge(deps.config.realm));
  }
  res = new Response(request.method === "HEAD" ? null : res.body, res);
  res.headers.append("Server-Timing", ops.toServerTiming());
  const cors = deps.config.cors;
  const origin = request.headers.get("origin");
  if (
    cors &&
    origin !== null &&
    d.decision !== "preflight" &&
    (cors.origins === "*" || cors.origins.has(origin)) &&
    !res.headers.has("access-control-allow-origin")
  ) {
    res.headers.set("Access-Control-Allow-Origin", cors.origins === "*" ? "*" : origin);
    res.headers.append("Vary", "Origin");
    res.headers.set("Access-Control-Expose-Headers", "WWW-Authenticate, Server-Timing");
    if (deps.config.cookieName) res.headers.set("Access-Control-Allow-Credentials", "true");
  }
  d.status = res.status;
  deps.log(JSON.stringify(d));
  return res;
}

async function decide(request: Request, url: URL, deps: Deps, ops: KvOps, d: DecisionLog): Promise<Response> {
  const { config } = deps;
  // One path policy (shared/http/path.ts): decide on the normalised path, forward exactly its encoded form.
  const np = normalizePath(url.pathname, { pathParams: config.allowPathParams });
  if (!np.ok) throw new HttpError(np.status, "invalid_request", np.reason, challenge(config.realm));
  d.path = np.path;
  const path = np.encoded;

  // The assertion's public keys (assertion.ts): public, no token, answered by the gate itself.
  if (JWKS_PATHS.includes(np.path)) {
    d.decision = "public";
    d.reason = "jwks";
    return jwksResponse(request.method, config.assertion);
  }

  // No other path is the gate's own: /__edgekv/* is gated and forwarded like any path (the admin API is the control Worker's).
  const method = request.method;
  if (method === "OPTIONS" && config.cors && request.headers.has("origin") && request.headers.has("access-control-request-method")) {
    d.decision = "preflight";
    d.reason = "cors preflight";
    return preflight(request, config);
  }

  if (anyGlob(config.publicPaths, np.path)) {
    d.decision = "public";
    d.reason = "public path";
    return toOrigin(await buildOriginRequest(request, url, path, undefined, config, deps.now()), deps);
  }

  const { record, source } = await authenticate(request, url, deps, ops, d);
  authorize(request, url, config, d, record, source, np.path, path);
  d.decision = "allow";
  d.reason = "valid token";
  const res = await toOrigin(await buildOriginRequest(request, url, path, identityOf(record), config, deps.now()), deps);
  // An open WebSocket would outlive the token: close it at expiry, or after MAX_SOCKET_SECONDS (socket.ts).
  const now = deps.now();
  return res.status === 101 ? boundSocket(res, Math.min(record.expiresAt, now + MAX_SOCKET_SECONDS * 1000), now) : res;
}

type TokenSource = Extract<Credential, { kind: "token" }>["source"];

/**
 * The request's valid, unexpired token record, or a thrown 400/401/429. The
 * limiter is asked before anything else; a malformed token never costs a KV read.
 */
async function authenticate(request: Request, url: URL, deps: Deps, ops: KvOps, d: DecisionLog): Promise<{ record: TokenRecord; source: TokenSource }> {
  const { config } = deps;
  const cred = extractCredential(request, url, config.cookieName, config.allowQueryToken);
  if (cred.kind === "none") {
    d.reason = "no credential";
    throw new HttpError(401, "unauthorized", "a bearer token is required", challenge(config.realm));
  }
  // Only the limiter uses the key: without one, no hashing for it.
  const ip = deps.limiter ? await clientKey(request, cred.kind === "token" ? cred.token : undefined) : "";
  const wait = deps.limiter?.retryAfter(ip) ?? 0;
  if (wait > 0) rateLimited(d, config.realm, wait);
  if (cred.kind === "bad") return fail(d, deps, ip, 400, "invalid_request", cred.reason);
  let h = hashes.get(cred.token)?.value;
  if (!h) {
    // Offline: a token with a bad shape or checksum never costs a KV read.
    if (!isWellFormedToken(cred.token)) return fail(d, deps, ip, 401, "invalid_token", "malformed token");
    h = await hashToken(cred.token);
    hashes.set(cred.token, { value: h, metadata: null, freshUntil: Number.POSITIVE_INFINITY });
  }
  d.token = h.id;
  // From the isolate without a promise hop when held; else one KV read.
  let record = deps.tokens.held(h.hash, ops);
  if (record === undefined) record = await deps.tokens.read(h.hash, ops);
  if (!record) return fail(d, deps, ip, 401, "invalid_token", "unknown or revoked token");
  d.user = record.user;
  // KV deletes expired keys "at the earliest"; the value's deadline is what counts.
  if (record.expiresAt <= deps.now()) return fail(d, deps, ip, 401, "invalid_token", "expired token");
  return { record, source: cred.source };
}

/** Throws a 403 unless this token may make this request: an allowed origin for a cookie's write or upgrade, every method in scope. */
function authorize(
  request: Request,
  url: URL,
  config: GateConfig,
  d: DecisionLog,
  record: TokenRecord,
  source: TokenSource,
  decided: string,
  encoded: string,
): void {
  // A cookie alone must not let another site make the browser write or open a socket (CSRF, CSWSH).
  if (source === "cookie" && needsOrigin(request) && !fromAllowedOrigin(request, url, config)) {
    d.reason = "cross-site request with a cookie credential";
    throw new HttpError(403, "cross_site_request", "cross-site requests authenticated by cookie are refused", challenge(config.realm));
  }
  const refused = firstUnscopedMethod(record.scopes, request.method, decided, url.search);
  if (refused !== undefined) {
    const needed = `${refused}:${encoded}`;
    d.reason = "insufficient scope";
    throw new HttpError(
      403,
      "insufficient_scope",
      `this token lacks scope ${needed}`,
      challenge(config.realm, "insufficient_scope", "token lacks the scope", needed),
    );
  }
}

/**
 * The first method this request could act as that the scopes do not allow,
 * or undefined. Besides its own method, a request may act as the method a
 * query parameter names (OVERRIDE_NAME, in every spelling servers read:
 * `overrides`), so each of those must be in scope too; `*` (any method) when
 * a value is not a plain method. (Override headers never reach the origin: strip.ts.)
 */
function firstUnscopedMethod(scopes: readonly string[], method: string, path: string, search: string): string | undefined {
  if (!scopeAllows(scopes, method, path)) return method;
  if (scopes.length === 0 || !OVERRIDE_RE.test(search)) return undefined;
  return overrides(search).find((m) => !scopeAllows(scopes, m, path));
}

/**
 * `+` and percent-escapes decoded byte for byte (PHP decodes names to bytes; no UTF-8 needed to
 * spell ASCII), and IIS's `%uXXXX`, which ASP.NET decodes.
 */
const decodeBytes = (s: string) =>
  s.replace(/\+/g, " ").replace(/%(u[0-9a-f]{4}|[0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(Number.parseInt(h.slice(-4), 16)));

/**
 * The methods the query's override parameters name, uppercased, `*` for a value that is not
 * a plain method (empty, junk, non-ASCII). Read as widely as any server reads them: pairs split
 * on `&` and also on `;`; every duplicate counts (PHP acts on the last, Express on the first).
 * A name is decoded, cut at a NUL (PHP's C strings), trimmed of white space (linear: no regex), case folded
 * (ASP.NET), `.` and space read as `_`, and `[` opening an array under the name before it or,
 * unmatched, read as `_` (PHP).
 * @example overrides("?.method=delete&_method[]=PUT&_METHOD=%00") // ["DELETE", "PUT", "*"]
 */
export function overrides(search: string): string[] {
  const q = search.slice(1);
  const out: string[] = [];
  for (const pair of new Set([...q.split("&"), ...q.split(/[&;]/)])) {
    const [name = "", ...value] = pair.split("=");
    const n = decodeBytes(name).split("\0")[0]!.trim().toLowerCase().replace(/[ .]/g, "_");
    if (OVERRIDE_NAME.test(n.split("[")[0]!) || OVERRIDE_NAME.test(n.replace(/\[/g, "_"))) {
      const v = decodeBytes(value.join("=")).trim();
      out.push(/^[a-z]+$/i.test(v) ? v.toUpperCase() : "*");
    }
  }
  return out;
}

/**
 * True when a browser could use this request to change state or hold a channel open: any
 * method but GET and HEAD, or an upgrade (a WebSocket is a GET, and no CORS guards its frames).
 */
export function needsOrigin(request: Request): boolean {
  const h = request.headers;
  return (request.method !== "GET" && request.method !== "HEAD") || h.has("upgrade") || h.has("sec-websocket-key") || h.get("sec-fetch-mode") === "websocket";
}

/**
 * True when `Origin` is exactly the gate's own origin (and `Sec-Fetch-Site`, if sent, agrees:
 * same-origin) or exactly one of CORS_ALLOW_ORIGINS (and `Sec-Fetch-Site` is not same-origin or
 * none). Fails closed: browsers send `Origin` on every write and WebSocket, so none, `null` (a
 * redirect from elsewhere, a sandbox) or any other value is refused, and a sibling subdomain
 * (same-site) is another site here.
 */
export function fromAllowedOrigin(request: Request, url: URL, config: GateConfig): boolean {
  const origin = request.headers.get("origin");
  const site = request.headers.get("sec-fetch-site");
  if (origin === url.origin) return site === null || site === "same-origin";
  const cors = config.cors;
  return origin !== null && cors !== undefined && cors.origins !== "*" && cors.origins.has(origin) && site !== "same-origin" && site !== "none";
}

async function fail(d: DecisionLog, deps: Deps, ip: string, status: 400 | 401, error: string, reason: string): Promise<never> {
  d.reason = reason;
  const wait = (await deps.limiter?.fail(ip)) ?? 0;
  if (wait > 0) return rateLimited(d, deps.config.realm, wait);
  throw new HttpError(status, error, reason, challenge(deps.config.realm, error, reason));
}

function rateLimited(d: DecisionLog, realm: string, wait: number): never {
  d.reason = `rate limited${d.reason ? ` after ${d.reason}` : ""}`;
  throw tooManyFailures(wait, challenge(realm));
}

async function toOrigin(forwarded: Request, deps: Deps): Promise<Response> {
  try {
    return await deps.origin(forwarded);
  } catch (err) {
    throw new HttpError(502, "bad_gateway", "the origin could not be reached", {}, { cause: err });
  }
}

function preflight(request: Request, config: GateConfig): Response {
  const cors = config.cors!;
  const origin = request.headers.get("origin")!;
  const method = request.headers.get("access-control-request-method")!.toUpperCase();
  const asked = (request.headers.get("access-control-request-headers") ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  if ((cors.origins !== "*" && !cors.origins.has(origin)) || !cors.methods.has(method) || asked.some((h) => !cors.headers.has(h))) {
    throw new HttpError(403, "cors_rejected", "this cross-origin request is not allowed by the CORS policy", { Vary: "Origin" });
  }
  return new Response(null, {
    status: 204,
    headers: {
      "Access-Control-Allow-Origin": cors.origins === "*" ? "*" : origin,
      "Access-Control-Allow-Methods": [...cors.methods].join(", "),
      "Access-Control-Allow-Headers": [...cors.headers].join(", "),
      "Access-Control-Max-Age": String(cors.maxAge),
      ...(config.cookieName ? { "Access-Control-Allow-Credentials": "true" } : {}),
      Vary: "Origin",
    },
  });
}
