// Pure parts of the soak: which responses are explained by an injected fault,
// which are unexplained errors, and which are wrong decisions. No I/O here
// (covered by test/node/bench/soak.test.ts).

/** What a soak request was meant to exercise. */
export type Kind = "site" | "site-asset" | "splitter" | "gate-valid" | "gate-malformed" | "gate-unknown" | "gate-expired" | "gate-revoked" | "gate-none";

export type FaultName = "kv-down" | "origin-down" | "origin-slow" | "bad-config" | "site-deploy" | "rollout-change" | "token-revoke";

/** A fault injected during the run, from `start` to `end` (ms since epoch). */
export interface FaultWindow {
  name: FaultName;
  start: number;
  end: number;
}

/** One response (or network error) the load generator saw. */
export interface Observation {
  kind: Kind;
  start: number;
  end: number;
  /** HTTP status, or 0 when the request failed without a response. */
  status: number;
  /** The `error` field of a JSON error body, when there is one. */
  errorCode?: string;
}

export type Verdict = { class: "ok" } | { class: "explained"; by: FaultName } | { class: "unexplained"; why: string } | { class: "wrong"; why: string };

/** Statuses each kind may answer when nothing is wrong. */
const EXPECTED: Record<Kind, readonly number[]> = {
  site: [200, 206, 304],
  "site-asset": [200, 304],
  splitter: [200],
  "gate-valid": [200],
  "gate-malformed": [400, 401, 429],
  "gate-unknown": [401, 429],
  "gate-expired": [401, 429],
  "gate-revoked": [401, 429], // 200 is allowed only within the revocation bound, see classify()
  "gate-none": [401],
};

const GATE: readonly Kind[] = ["gate-valid", "gate-malformed", "gate-unknown", "gate-expired", "gate-revoked", "gate-none"];
/** Kinds whose requests go on to an origin (a revoked token does, until the revocation bound). */
const PROXIED: readonly Kind[] = ["splitter", "gate-valid", "gate-revoked"];

/**
 * Which faults can explain a status for a kind:
 * - KV down: the site and the gate answer 503 (fail closed), the splitter keeps its last good config (nothing to explain);
 * - an origin down: 502 on the proxied paths; an origin slow past the timeout: 504;
 * - a bad rollout config and a site deploy explain nothing (they must be invisible).
 */
export function explains(fault: FaultName, kind: Kind, status: number): boolean {
  switch (fault) {
    case "kv-down":
      return status === 503 && (kind === "site" || kind === "site-asset" || GATE.includes(kind));
    case "origin-down":
      return status === 502 && PROXIED.includes(kind);
    case "origin-slow":
      return status === 504 && PROXIED.includes(kind);
    default:
      return false;
  }
}

export interface ClassifyOptions {
  /** Slack after a window ends (isolate caches, in-flight requests), ms. */
  graceMs: number;
  /** When the revoked token was revoked, and the documented bound after which it must be refused. */
  revokedAt?: number;
  revocationBoundMs?: number;
}

/**
 * Classifies one observation against the fault windows.
 * @example classify({ kind: "site", start: 5, end: 6, status: 503 }, [{ name: "kv-down", start: 0, end: 10 }], { graceMs: 0 }) // explained by kv-down
 */
export function classify(o: Observation, faults: readonly FaultWindow[], options: ClassifyOptions): Verdict {
  if (o.kind === "gate-revoked" && o.status === 200) {
    if (options.revokedAt === undefined || o.start < options.revokedAt + (options.revocationBoundMs ?? 0)) return { class: "ok" };
    return { class: "wrong", why: "revoked token allowed after the revocation bound" };
  }
  if (GATE.includes(o.kind) && o.kind !== "gate-valid" && o.status >= 200 && o.status < 400) {
    return { class: "wrong", why: `${o.kind} request allowed (${o.status})` };
  }
  if (EXPECTED[o.kind].includes(o.status)) return { class: "ok" };
  for (const f of faults) {
    const overlaps = o.start <= f.end + options.graceMs && o.end >= f.start;
    if (overlaps && explains(f.name, o.kind, o.status)) return { class: "explained", by: f.name };
  }
  const what = o.status === 0 ? "no response" : `${o.status}${o.errorCode ? ` ${o.errorCode}` : ""}`;
  return { class: "unexplained", why: `${o.kind}: ${what}` };
}

/** What an origin recorded about one request (the soak tags each request with x-soak-id / x-soak-kind). */
export interface OriginHit {
  kind: string | undefined;
  user: string | undefined;
}

/**
 * Wrong decisions seen at an origin: a request the gate should have refused, or
 * a gate-allowed request without the token's identity.
 * @example originViolations([{ kind: "gate-malformed", user: undefined }], "soak") // ["gate-malformed request reached an origin"]
 */
export function originViolations(hits: readonly OriginHit[], validUser: string): string[] {
  const out: string[] = [];
  for (const h of hits) {
    if (h.kind === undefined || h.kind === "splitter") continue;
    if (h.kind === "gate-valid" || h.kind === "gate-revoked") {
      if (h.user !== validUser && !(h.kind === "gate-revoked" && h.user === "soak-revoked"))
        out.push(`${h.kind} request reached an origin as user ${h.user ?? "(none)"}`);
      continue;
    }
    out.push(`${h.kind} request reached an origin`);
  }
  return out;
}

/**
 * Colour flips: the same user answered by different colours under the same config
 * version (failover and fallback excepted, they say so in x-edgekv-reason).
 * @example colourFlips([{ user: "u", version: "3", color: "blue", reason: "bucket" }, { user: "u", version: "3", color: "green", reason: "bucket" }]) // 1 flip
 */
export function colourFlips(seen: readonly { user: string; version: string; color: string; reason: string }[]): string[] {
  const first = new Map<string, string>();
  const flips: string[] = [];
  for (const s of seen) {
    if (s.reason === "failover" || s.reason === "fallback" || s.version === "none") continue;
    const key = `${s.user}@${s.version}`;
    const had = first.get(key);
    if (had === undefined) first.set(key, s.color);
    else if (had !== s.color) flips.push(`${s.user} flipped ${had} -> ${s.color} at config version ${s.version}`);
  }
  return flips;
}

/**
 * Site consistency: one (version, path) must always have one ETag, and an identity
 * body must hash to its ETag. Returns one message per violation.
 * @example siteViolations([{ version: "v1", path: "/", etag: '"ab"', bodySha: "ab" }]) // []
 */
export function siteViolations(seen: readonly { version: string; path: string; etag: string; bodySha?: string }[]): string[] {
  const etags = new Map<string, string>();
  const out: string[] = [];
  for (const s of seen) {
    const key = `${s.version} ${s.path}`;
    const had = etags.get(key);
    if (had === undefined) etags.set(key, s.etag);
    else if (had !== s.etag) out.push(`${s.path} has two ETags in version ${s.version}: ${had} and ${s.etag}`);
    const hash = /^"([0-9a-f]{64})(?:-(?:br|gz))?"$/.exec(s.etag)?.[1];
    if (s.bodySha !== undefined && hash !== undefined && hash !== s.bodySha) out.push(`${s.path} (version ${s.version}): body does not match its ETag`);
  }
  return out;
}
