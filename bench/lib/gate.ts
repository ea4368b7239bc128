// The gate's bench cases (issue 26): the gate against the bare proxy and its floor,
// the least code that does its job correctly, and the gate with an identity
// assertion (Ed25519, HS256) against the plain gate and a floor that also signs.
// The floors are the cases' `floor` sides (the one floor mechanism of bench/run.ts,
// reported in its "Against the floor" table); they live here rather than in
// floors.ts's FLOORS because the signing ones need keys made per run. Each is a
// plain module string on the same local state (TOKENS_KV), sent the same request.
import { randomBytes } from "node:crypto";
import { generatePrivateJwk } from "../../workers/auth/assertion.ts";
import { bundleWorker, startWorker, type RunningWorker } from "../../scripts/runtime.ts";
import type { LoadRequest } from "./load.ts";
import type { Target } from "./stats.ts";

/** What issues asked the gate to send on every allow: the rest of the identity, X-Forwarded-*. */
const ASKED_HEADERS = `
    headers.set("x-edgekv-scopes", r.scopes.join(" ") || "*");
    headers.set("x-edgekv-token-expires", String(Math.floor(r.expiresAt / 1000)));
    headers.set("x-edgekv-token-id", r.id);
    headers.set("x-forwarded-host", u.host);
    headers.set("x-forwarded-proto", u.protocol.slice(0, -1));
    const ip = request.headers.get("cf-connecting-ip");
    if (ip) headers.set("x-forwarded-for", ip);`;

/** ...and on every answer: a subrequest no cache keeps, Server-Timing (a rewrapped response), one JSON log line. */
const ASKED_ANSWER = `const res = await fetch(target, { method: request.method, headers, body: request.body, cache: "no-store" });
    const out = new Response(res.body, res);
    out.headers.append("Server-Timing", 'kv;desc="reads=0 writes=0 deletes=0 lists=0 hits=1 stale=0";dur=0');
    console.log(JSON.stringify({ msg: "edgekv-auth", decision: "allow", reason: "valid token", method: request.method, path: u.pathname, token: r.id, user: r.user, status: out.status }));
    return out;`;

/**
 * Bearer parsed, SHA-256 memoised per isolate, record held 10 s in the isolate,
 * expiry checked, forward with the credential removed and the user header set.
 * With SIGN set ("EdDSA" or "HS256"), it also signs the assertion the gate sends,
 * with the key imported once and the JWT header encoded once. `asked`: see GATE_FLOOR_ASKED.
 */
function gateFloor(asked: boolean): string {
  return `// Floor of the gate (bench/lib/gate.ts)${asked ? ", with what issues asked the gate for" : ""}.
const enc = new TextEncoder();
const hashes = new Map();
const records = new Map();
const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
const b64u = (b) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
let signer;
function signerFor(env) {
  if (signer) return signer;
  const hs = env.SIGN === "HS256";
  const jwk = hs ? undefined : JSON.parse(env.IDENTITY_PRIVATE_JWK);
  const head = b64u(enc.encode(JSON.stringify(hs ? { alg: "HS256", typ: "JWT" } : { alg: "EdDSA", typ: "JWT", kid: jwk.kid })));
  const algo = hs ? { name: "HMAC", hash: "SHA-256" } : { name: "Ed25519" };
  const key = hs
    ? crypto.subtle.importKey("raw", enc.encode(env.IDENTITY_SECRET), algo, false, ["sign"])
    : crypto.subtle.importKey("jwk", { kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d }, algo, false, ["sign"]);
  signer = { head, algo, key };
  return signer;
}
async function sign(env, claims) {
  const s = signerFor(env);
  const input = s.head + "." + b64u(enc.encode(JSON.stringify(claims)));
  return input + "." + b64u(await crypto.subtle.sign(s.algo, await s.key, enc.encode(input)));
}
export default {
  async fetch(request, env) {
    const auth = request.headers.get("authorization");
    if (!auth || !auth.startsWith("Bearer ")) return new Response("no token", { status: 401 });
    const token = auth.slice(7);
    let hash = hashes.get(token);
    if (!hash) hashes.set(token, (hash = hex(await crypto.subtle.digest("SHA-256", enc.encode(token)))));
    const now = Date.now();
    let held = records.get(hash);
    if (!held || held.until <= now) {
      held = { record: await env.TOKENS_KV.get("tok/" + hash, { type: "json", cacheTtl: 30 }), until: now + 10000 };
      records.set(hash, held);
    }
    const r = held.record;
    if (!r || r.expiresAt <= now) return new Response("invalid token", { status: 401 });
    const u = new URL(request.url);
    const target = env.ORIGIN_URL + u.pathname + u.search;
    const headers = new Headers(request.headers);
    headers.delete("authorization");
    headers.set("x-edgekv-user", r.user);${asked ? ASKED_HEADERS : ""}
    if (env.SIGN) {
      const iat = Math.floor(now / 1000);
      const jti = b64u(crypto.getRandomValues(new Uint8Array(16)));
      const claims = { iss: u.origin, sub: r.user, aud: new URL(target).origin, iat, exp: iat + 60, jti, scope: r.scopes.join(" ") || "*", htm: request.method, htu: target, token_id: r.id };
      headers.set("x-edgekv-jwt-assertion", await sign(env, claims));
    }
    ${asked ? ASKED_ANSWER : "return fetch(target, { method: request.method, headers, body: request.body });"}
  },
};`;
}

/** The gate floor. */
export const GATE_FLOOR = gateFloor(false);

/**
 * The gate floor doing what issues asked the gate for on every allow, which the floor leaves
 * out: the identity's scopes, expiry and token id, X-Forwarded-Host/-Proto/-For, a `no-store`
 * subrequest (an authenticated answer is one user's: docs/security.md), `Server-Timing`, one JSON log line.
 * The gate against it is its code; it against GATE_FLOOR is what that behaviour costs.
 */
export const GATE_FLOOR_ASKED = gateFloor(true);

interface GateSide {
  worker: RunningWorker;
  req: Omit<LoadRequest, "url"> & { path: string };
}

export interface GateCase {
  id: string;
  worker: "auth";
  label: string;
  baseline: string;
  expect: number;
  a: GateSide;
  b: GateSide;
  target: Target;
  /** Measured in the same alternation as A and B (bench/run.ts `Case.floor`). */
  floor?: { label: string; side: GateSide };
}

/** What the gate cases start besides the plain gate: the signing gates and the four floors. */
interface GateWorkers {
  authEd: RunningWorker;
  authHs: RunningWorker;
  floor: RunningWorker;
  floorAsked: RunningWorker;
  floorEd: RunningWorker;
  floorHs: RunningWorker;
}

/** Starts the signing gates (Ed25519, HS256) and the floors, on the state and origin of the plain gate. */
async function startGateWorkers(start: GateStart): Promise<GateWorkers> {
  // The same bundle as the plain gate (unminified when profiling, for function names).
  const authJs = await bundleWorker("auth", start.inspect.inspectorPort === undefined);
  const jwk = JSON.stringify(await generatePrivateJwk("EdDSA"));
  const secret = randomBytes(32).toString("base64");
  const common = { env: "auth" as const, persistTo: start.persist, drop: ["FAILED_AUTH_LIMITER"], ...start.inspect };
  const gate = (name: string, vars: Record<string, string>) =>
    startWorker({ ...common, name, modules: [{ path: "index.js", contents: authJs }], vars: { ORIGIN_URL: start.originUrl, ...vars } });
  const floor = (name: string, vars: Record<string, string>, source = GATE_FLOOR) =>
    startWorker({ ...common, name, modules: [{ path: "index.js", contents: source }], vars: { ORIGIN_URL: start.originUrl, ...vars } });
  const w: GateWorkers = {
    authEd: await gate("auth-ed25519", { IDENTITY_PRIVATE_JWK: jwk }),
    authHs: await gate("auth-hs256", { IDENTITY_SECRET: secret }),
    floor: await floor("gate-floor", {}),
    floorAsked: await floor("gate-floor-asked", {}, GATE_FLOOR_ASKED),
    floorEd: await floor("gate-floor-ed25519", { SIGN: "EdDSA", IDENTITY_PRIVATE_JWK: jwk }),
    floorHs: await floor("gate-floor-hs256", { SIGN: "HS256", IDENTITY_SECRET: secret }),
  };
  for (const x of Object.values(w)) start.stops.push(() => x.stop());
  return w;
}

export interface GateStart {
  /** The plain gate, already running (ORIGIN_URL = originUrl, no limiter). */
  auth: RunningWorker;
  /** The bare proxy to the same origin. */
  proxy: RunningWorker;
  persist: string;
  originUrl: string;
  stops: (() => Promise<void>)[];
  inspect: { inspectorPort?: number };
}

/**
 * Every gate case: the plain gate against the bare proxy and its floor, the signing gates against
 * the plain gate and their signing floors; `token` valid, `revoked` revoked.
 */
export async function gateCases(start: GateStart, token: string, revoked: string): Promise<GateCase[]> {
  const w = await startGateWorkers(start);
  const side = (worker: RunningWorker, t: string): GateSide => ({ worker, req: { path: "/api/x", headers: { authorization: `Bearer ${t}` } } });
  const c = (id: string, label: string, expect: number, a: GateSide, baseline: string, b: GateSide, target: Target, floor?: GateCase["floor"]): GateCase => ({
    id,
    worker: "auth",
    label,
    baseline,
    expect,
    a,
    b,
    target,
    ...(floor ? { floor } : {}),
  });
  const malformed = `ekv_${"x".repeat(30)}`;
  const { auth, proxy } = start;
  const floor = (label: string, worker: RunningWorker) => ({ label, side: side(worker, token) });
  return [
    c("gate-valid", "gate, valid token", 200, side(auth, token), "bare proxy", side(proxy, token), { rpsMin: 0.9, readsMax: 0 }, floor("gate-floor", w.floor)),
    c(
      "gate-valid-asked",
      "gate, valid token, floor doing what issues asked for",
      200,
      side(auth, token),
      "bare proxy",
      side(proxy, token),
      { rpsMin: 0.9, readsMax: 0 },
      floor("gate-floor-asked", w.floorAsked),
    ),
    c("gate-malformed", "gate, malformed token", 401, side(auth, malformed), "bare proxy", side(proxy, malformed), { rpsMin: 0.9, readsMax: 0 }),
    c("gate-unknown", "gate, unknown token", 401, side(auth, revoked), "bare proxy", side(proxy, revoked), { rpsMin: 0.9 }),
    c(
      "gate-ed25519",
      "gate + Ed25519 assertion",
      200,
      side(w.authEd, token),
      "plain gate",
      side(auth, token),
      { readsMax: 0 },
      floor("gate-floor-ed25519", w.floorEd),
    ),
    c(
      "gate-hs256",
      "gate + HS256 assertion",
      200,
      side(w.authHs, token),
      "plain gate",
      side(auth, token),
      { readsMax: 0 },
      floor("gate-floor-hs256", w.floorHs),
    ),
  ];
}
