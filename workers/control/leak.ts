/**
 * Leak reports in the format of GitHub's secret-scanning partner program
 * (docs/auth.md "Leaked tokens"): GitHub, or anyone holding a key it publishes
 * at LEAK_KEYS_URL, POSTs `[{token, type, url, source}]` signed with ECDSA
 * P-256 / SHA-256 over the raw body. A verified report revokes each real token
 * with one write and sends one `token.leaked` webhook per token revoked.
 *
 *   POST /__edgekv/leaks   GITHUB-PUBLIC-KEY-IDENTIFIER, GITHUB-PUBLIC-KEY-SIGNATURE
 *     -> 200 [{token_hash, token_type: "true_positive" | "false_positive", label}]
 *
 * Nothing is read from KV before the signature holds, and nothing is written
 * before the whole body is valid.
 */
import { sha256Hex } from "../../shared/crypto.ts";
import { readBounded } from "../../shared/http/body.ts";
import { HttpError } from "../../shared/http/errors.ts";
import type { TokenWriter } from "../../shared/tokens/write.ts";
import { isWellFormedToken } from "../auth/token.ts";
import type { OriginFetch } from "../splitter/origin.ts";
import type { ControlEnv } from "./env.ts";
import { sendTokenEvents } from "./token-events.ts";

export const LEAK_PATH = "/__edgekv/leaks";
/** GitHub's published secret-scanning keys; LEAK_KEYS_URL overrides it, "off" turns the endpoint off. */
export const DEFAULT_LEAK_KEYS_URL = "https://api.github.com/meta/public_keys/secret_scanning";
/** Largest report accepted (GitHub batches matches; 1,000 items of a few hundred bytes fit). */
export const MAX_LEAK_BODY_BYTES = 256 * 1024;
export const MAX_LEAK_ITEMS = 1000;
/** Longest string field of an item (a token is 34 characters; URLs can be long). */
export const MAX_LEAK_FIELD_CHARS = 2048;
/** The key list: kept this long per isolate, and read up to this size. */
export const LEAK_KEYS_TTL_MS = 3_600_000;
export const MAX_LEAK_KEYS_BYTES = 64 * 1024;
/** An unknown key id refetches the list at most once per this interval (a forger cannot make us hammer the URL). */
export const LEAK_KEYS_REFETCH_MS = 60_000;
export const LEAK_KEYS_TIMEOUT_MS = 5_000;

export const GITHUB_KEY_ID_HEADER = "GITHUB-PUBLIC-KEY-IDENTIFIER";
export const GITHUB_SIGNATURE_HEADER = "GITHUB-PUBLIC-KEY-SIGNATURE";

export interface LeakDeps {
  env: ControlEnv;
  tokens: TokenWriter;
  now: () => number;
  /** Fetches the key list and sends webhooks (the global fetch in production). */
  fetch: OriginFetch;
  /** Keeps webhook deliveries running after the answer (ctx.waitUntil); awaited inline without it. */
  waitUntil?: (p: Promise<unknown>) => void;
  sleep?: (ms: number) => Promise<void>;
}

interface KeyCache {
  url: string;
  keys: Map<string, CryptoKey>;
  fetchedAt: number;
  triedAt: number;
}
let cache: KeyCache | undefined;
/** The fetch in flight: concurrent reports on a cold isolate wait for it instead of failing. */
let inflight: Promise<void> | undefined;

/** Forgets the cached key list (tests). */
export function resetLeakKeys(): void {
  cache = undefined;
  inflight = undefined;
}

const unauthorized = (message: string) => new HttpError(401, "bad_signature", message);
const bad = (message: string) => new HttpError(400, "invalid_report", message);

function b64(s: string): Uint8Array | null {
  try {
    return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/**
 * An ASN.1 DER ECDSA signature (SEQUENCE of two INTEGERs) as WebCrypto's IEEE
 * P1363 r||s, 32 bytes each for P-256; null for anything else.
 * @example derToP1363(der) // Uint8Array(64)
 */
export function derToP1363(der: Uint8Array): Uint8Array | null {
  if (der.length < 8 || der.length > 72 || der[0] !== 0x30 || der[1] !== der.length - 2) return null;
  const out = new Uint8Array(64);
  let i = 2;
  for (const at of [0, 32]) {
    if (der[i] !== 0x02) return null;
    const len = der[i + 1]!;
    let v = der.subarray(i + 2, i + 2 + len);
    if (len < 1 || len > 33 || v.length !== len) return null;
    // A leading zero keeps a high bit positive; anything longer than 32 bytes after it is invalid.
    if (len === 33) {
      if (v[0] !== 0) return null;
      v = v.subarray(1);
    }
    out.set(v, at + 32 - v.length);
    i += 2 + len;
  }
  return i === der.length ? out : null;
}

async function importPem(pem: string): Promise<CryptoKey | null> {
  const der = b64(pem.replace(/-----(BEGIN|END) PUBLIC KEY-----|\s+/g, ""));
  if (!der) return null;
  return crypto.subtle.importKey("spki", der, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]).catch(() => null);
}

/** Fetches and parses the key list; a failure keeps the previous keys. */
async function refresh(url: string, deps: LeakDeps): Promise<void> {
  const now = deps.now();
  cache = cache?.url === url ? { ...cache, triedAt: now } : { url, keys: new Map(), fetchedAt: 0, triedAt: now };
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), LEAK_KEYS_TIMEOUT_MS);
  try {
    const res = await deps.fetch(
      new Request(url, { headers: { accept: "application/json", "user-agent": "edgekv-control" }, redirect: "manual", signal: ctl.signal }),
    );
    if (!res.ok || Number(res.headers.get("content-length") ?? 0) > MAX_LEAK_KEYS_BYTES) {
      await res.body?.cancel().catch(() => {});
      return;
    }
    const doc = JSON.parse(new TextDecoder().decode(await readBounded(res.body, MAX_LEAK_KEYS_BYTES, "key list"))) as { public_keys?: unknown };
    const keys = new Map<string, CryptoKey>();
    for (const k of Array.isArray(doc.public_keys) ? doc.public_keys.slice(0, 64) : []) {
      const { key_identifier: id, key: pem } = (k ?? {}) as { key_identifier?: unknown; key?: unknown };
      if (typeof id !== "string" || typeof pem !== "string" || id.length > 256) continue;
      const imported = await importPem(pem);
      if (imported) keys.set(id, imported);
    }
    cache = { url, keys, fetchedAt: now, triedAt: now };
  } catch {
    /* unreachable, malformed or oversized: keep what we had */
  } finally {
    clearTimeout(timer);
  }
}

/** The key named `id`: from the isolate's list while fresh, else refetched (unknown ids: once per LEAK_KEYS_REFETCH_MS). */
async function keyFor(url: string, id: string, deps: LeakDeps): Promise<CryptoKey | undefined> {
  if (inflight) await inflight;
  const now = deps.now();
  const c = cache?.url === url ? cache : undefined;
  const stale = !c || now - c.fetchedAt >= LEAK_KEYS_TTL_MS;
  if ((stale || !c.keys.has(id)) && (!c || now - c.triedAt >= LEAK_KEYS_REFETCH_MS)) {
    inflight = refresh(url, deps).finally(() => {
      inflight = undefined;
    });
    await inflight;
  }
  return cache?.url === url ? cache.keys.get(id) : undefined;
}

interface Item {
  token: string;
  type: string;
  url: string;
  source: string;
}

function parseItems(raw: Uint8Array): Item[] {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(raw));
  } catch {
    throw bad("body must be a JSON array of {token, type, url, source}");
  }
  if (!Array.isArray(doc) || doc.length === 0) throw bad("body must be a non-empty JSON array of {token, type, url, source}");
  if (doc.length > MAX_LEAK_ITEMS) throw new HttpError(413, "too_large", `at most ${MAX_LEAK_ITEMS} items a report`);
  return doc.map((v, i) => {
    const o = (v ?? 0) as Record<string, unknown>;
    const item = { token: o.token, type: o.type ?? "", url: o.url ?? "", source: o.source ?? "" };
    for (const [k, s] of Object.entries(item)) {
      if (typeof s !== "string" || s.length > MAX_LEAK_FIELD_CHARS || (k === "token" && !s))
        throw bad(`item ${i}: ${k} must be a string of at most ${MAX_LEAK_FIELD_CHARS} characters`);
    }
    return item as Item;
  });
}

/**
 * Verifies, then revokes. Bad input throws an HttpError (4xx) before any KV call.
 * @example return leakReport(request, { env, tokens, now: Date.now, fetch })
 */
export async function leakReport(request: Request, deps: LeakDeps): Promise<Response> {
  const url = deps.env.LEAK_KEYS_URL || DEFAULT_LEAK_KEYS_URL;
  if (url === "off") throw new HttpError(404, "not_found", "endpoint off (LEAK_KEYS_URL = off)");
  if (request.method !== "POST") throw new HttpError(405, "method_not_allowed", `POST ${LEAK_PATH} only`, { Allow: "POST" });
  // Bounded before anything is read, then again while reading (Content-Length may lie or be absent).
  if (Number(request.headers.get("content-length") ?? 0) > MAX_LEAK_BODY_BYTES) throw new HttpError(413, "too_large", `body over ${MAX_LEAK_BODY_BYTES} bytes`);
  const keyId = request.headers.get(GITHUB_KEY_ID_HEADER) ?? "";
  const sig = b64(request.headers.get(GITHUB_SIGNATURE_HEADER) ?? "");
  if (!keyId || !sig?.length) throw unauthorized(`${GITHUB_KEY_ID_HEADER} and ${GITHUB_SIGNATURE_HEADER} (base64) required`);
  const raw = await readBounded(request.body, MAX_LEAK_BODY_BYTES, "body");
  const p1363 = derToP1363(sig);
  if (!p1363) throw unauthorized("signature is not a DER ECDSA P-256 signature");
  const key = await keyFor(url, keyId, deps);
  if (!key) throw unauthorized("unknown key identifier");
  if (!(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, p1363, raw))) throw unauthorized("signature does not verify");
  const items = parseItems(raw);

  const answers: { token_hash: string; token_type: string; label: string }[] = [];
  const leaked: { user: string; id: string; url: string; source: string; type: string }[] = [];
  const seen = new Map<string, string>();
  for (const item of items) {
    const hash = await sha256Hex(item.token);
    let label = seen.get(hash);
    if (label === undefined) {
      label = "false_positive";
      // The checksum rejects look-alikes offline: no KV read for them.
      if (isWellFormedToken(item.token)) {
        const record = await deps.tokens.revokeRecord(hash);
        if (record && record.expiresAt > deps.now()) {
          label = "true_positive";
          leaked.push({ user: record.user, id: record.id, url: item.url, source: item.source, type: item.type });
        }
      }
      seen.set(hash, label);
    }
    answers.push({ token_hash: hash, token_type: item.type, label });
  }
  if (leaked.length) {
    const events = leaked.map((l) => ({
      type: "token.leaked" as const,
      id: `msg_edgekv_leak_${l.id}`,
      data: l,
      text: `edgekv token ${l.id} of ${l.user} was reported leaked (${l.source || "unknown source"}: ${l.url}) and revoked`,
    }));
    const sent = sendTokenEvents(deps.env, events, { fetch: deps.fetch, now: deps.now(), sleep: deps.sleep });
    if (deps.waitUntil) deps.waitUntil(sent);
    else await sent;
  }
  return Response.json(answers, { headers: { "Cache-Control": "no-store" } });
}
