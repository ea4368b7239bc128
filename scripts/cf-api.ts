/**
 * A local stand-in for the documented subset of Cloudflare's v4 API that Workers KV
 * needs, for tests, the benchmark and trying `--remote` offline. Built from the API
 * reference, not from what the CLI sends:
 *   https://developers.cloudflare.com/api/resources/kv/subresources/namespaces/  (bulk_update, bulk_delete, bulk_get)
 *   https://developers.cloudflare.com/api/resources/kv/subresources/namespaces/subresources/values/methods/update
 *   https://developers.cloudflare.com/api/resources/kv/subresources/namespaces/subresources/keys/methods/list/
 *   https://developers.cloudflare.com/api/typescript/resources/kv/subresources/namespaces/subresources/metadata/
 *   https://developers.cloudflare.com/kv/api/write-key-value-pairs/  (bulk: 10,000 pairs, 100 MB)
 *   https://developers.cloudflare.com/kv/platform/limits/            (key 512 B, value 25 MiB, metadata 1024 B, ttl >= 60 s)
 * What it does as documented: the envelope {success, errors[{code,message}], messages,
 * result, result_info{count,cursor}}; `Authorization: Bearer`; "Workers KV Storage
 * Read" for reads and "Write" for writes (403 otherwise); values raw or multipart
 * (`value`, `metadata`) with ?expiration / ?expiration_ttl; bulk writes of <= 10,000
 * pairs and <= 100 MB with `base64`, `expiration`, `expiration_ttl`, `metadata`; bulk
 * get of <= 100 keys (text or json, withMetadata); cursor paging of keys.
 * Error codes 10000 (authentication) and 10009 (key not found) are the API's; the codes
 * for malformed input below are the stand-in's own (the reference does not list them).
 * For tests: faults (429/5xx with Retry-After) injected by route, requests counted by route.
 *
 * Standalone (`npm run cf-api`, on the bundled Node; see `standalone` below):
 *   eval "$(npm run -s cf-api -- --print-env)"   # starts it in the background, exports
 *   CLOUDFLARE_API_BASE_URL, CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID and EDGEKV_CF_API_PID
 * Also namespace create and list (`wrangler kv namespace create` works against it).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const BASE_PATH = "/client/v4";
export const DEFAULT_ACCOUNT_ID = "0123456789abcdef0123456789abcdef";
/** The token every test uses unless it configures others; it grants everything. */
export const DEFAULT_TOKEN = "edgekv-standin-token-0000000000000000";
export const BULK_MAX_PAIRS = 10_000;
export const BULK_MAX_BYTES = 100_000_000;
export const BULK_GET_MAX_KEYS = 100;
export const KEY_MAX_BYTES = 512;
export const VALUE_MAX_BYTES = 25 * 1024 * 1024;
export const METADATA_MAX_BYTES = 1024;
export const MIN_TTL_SECONDS = 60;
export const LIST_MAX_LIMIT = 1000;
export const LIST_MIN_LIMIT = 10;

export type Permission = "kv:read" | "kv:write";
export interface TokenGrant {
  /** Account ids the token may act in; "*" for all. */
  accounts: string[] | "*";
  permissions: Permission[];
}

export interface Fault {
  /** `METHOD route`, e.g. "PUT bulk", "GET values"; any when left out. */
  route?: string;
  /** The status to answer (default 500); ignored with `unsuccessful`. */
  status?: number;
  /** Seconds, sent as `Retry-After`. */
  retryAfter?: number;
  /** How many matching requests fail (default 1). */
  times?: number;
  /** Matching requests let through before the first failure (default 0). */
  skip?: number;
  /**
   * For "PUT bulk" only: answer 200 but leave the first N pairs unwritten, listed in
   * `unsuccessful_keys` (the API's way to say "retry these").
   */
  unsuccessful?: number;
}

export interface StandInOptions {
  port?: number;
  tokens?: Record<string, TokenGrant>;
  accounts?: { id: string; name: string }[];
  /** Keys per page of `GET keys` at most (the API pages at 1000). */
  pageSize?: number;
  /** Epoch ms; injectable for expiration tests. */
  now?: () => number;
}

export interface Entry {
  value: Uint8Array;
  metadata?: unknown;
  /** Epoch seconds. */
  expiration?: number;
}

export interface RequestRecord {
  method: string;
  route: string;
  status: number;
  /** For a bulk write: the keys it stored. */
  keys?: number;
}

export interface CfApiStandIn {
  /** The API base, e.g. http://127.0.0.1:PORT/client/v4. */
  url: string;
  accountId: string;
  token: string;
  /** Requests by `METHOD route`, faulted ones included. */
  counts(): Record<string, number>;
  /** Requests that write (PUT/DELETE values, PUT bulk, POST bulk/delete). */
  writeRequests(): number;
  log: RequestRecord[];
  resetCounts(): void;
  inject(fault: Fault): void;
  /** Drops every injected fault (the "network" heals). */
  clearFaults(): void;
  /** The live map of one namespace's entries (created empty when new). */
  namespace(namespaceId: string, accountId?: string): Map<string, Entry>;
  close(): Promise<void>;
}

const WRITE_ROUTES = new Set(["PUT values", "DELETE values", "PUT bulk", "POST bulk/delete"]);

class HttpError extends Error {
  readonly status: number;
  readonly code: number;
  constructor(status: number, code: number, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function envelope(result: unknown, resultInfo?: Record<string, unknown>): string {
  return JSON.stringify({ success: true, errors: [], messages: [], result, ...(resultInfo ? { result_info: resultInfo } : {}) });
}

function failure(code: number, message: string): string {
  return JSON.stringify({ success: false, errors: [{ code, message }], messages: [], result: null });
}

/** KV lists keys in the byte order of their UTF-8. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > max) throw new HttpError(413, 10011, `request entity too large (more than ${max} bytes)`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function checkKeyName(key: unknown): string {
  if (typeof key !== "string" || key.length === 0) throw new HttpError(400, 10019, "key name is missing");
  if (Buffer.byteLength(key) > KEY_MAX_BYTES) throw new HttpError(414, 10019, `key name too long (more than ${KEY_MAX_BYTES} bytes)`);
  if (key === "." || key === "..") throw new HttpError(400, 10019, `illegal key name "${key}"`);
  return key;
}

function checkMetadata(raw: unknown): unknown {
  if (raw === undefined || raw === null) return undefined;
  const s = JSON.stringify(raw);
  if (Buffer.byteLength(s) > METADATA_MAX_BYTES) throw new HttpError(413, 10012, `metadata too large (more than ${METADATA_MAX_BYTES} bytes)`);
  return raw;
}

/** The expiration (epoch seconds) from `expiration` / `expiration_ttl`; the TTL wins when both are given. */
function expirationOf(expiration: unknown, ttl: unknown, nowSec: number): number | undefined {
  if (ttl !== undefined && ttl !== null && ttl !== "") {
    const n = Number(ttl);
    if (!Number.isFinite(n) || n < MIN_TTL_SECONDS)
      throw new HttpError(400, 10020, `Invalid expiration_ttl of ${String(ttl)}. Expiration TTL must be at least ${MIN_TTL_SECONDS}.`);
    return nowSec + Math.floor(n);
  }
  if (expiration !== undefined && expiration !== null && expiration !== "") {
    const n = Number(expiration);
    if (!Number.isFinite(n) || n < nowSec + MIN_TTL_SECONDS) {
      throw new HttpError(
        400,
        10021,
        `Invalid expiration of ${String(expiration)}. Expiration times must be at least ${MIN_TTL_SECONDS} seconds in the future.`,
      );
    }
    return Math.floor(n);
  }
  return undefined;
}

function checkValueSize(value: Uint8Array): Uint8Array {
  if (value.byteLength > VALUE_MAX_BYTES) throw new HttpError(413, 10011, `value too large (more than ${VALUE_MAX_BYTES} bytes)`);
  return value;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8")) as unknown;
  } catch {
    throw new HttpError(400, 10026, "could not parse request body as JSON");
  }
}

/** What one stand-in holds: its grants, its namespaces, its counters and faults. */
interface State {
  accounts: { id: string; name: string }[];
  tokens: Record<string, TokenGrant>;
  pageSize: number;
  now: () => number;
  stores: Map<string, Map<string, Entry>>;
  /** Namespaces made with `POST .../storage/kv/namespaces` (what `wrangler kv namespace create` sends), by account. */
  titles: Map<string, { id: string; title: string }[]>;
  counts: Map<string, number>;
  log: RequestRecord[];
  faults: (Fault & { seen: number; failed: number })[];
}

/** One request in flight, once routed. */
interface Call {
  st: State;
  req: IncomingMessage;
  url: URL;
  method: string;
  /** `METHOD route`, the counters' name. */
  name: string;
  accountId: string;
  nowSec: number;
  send: (status: number, body: string | Uint8Array, type?: string, headers?: Record<string, string>) => number;
}

type Answer = { route: string; status: number; keys?: number };

function namespaceOf(st: State, namespaceId: string, accountId = st.accounts[0]?.id ?? DEFAULT_ACCOUNT_ID): Map<string, Entry> {
  const id = `${accountId}/${namespaceId}`;
  let m = st.stores.get(id);
  if (!m) st.stores.set(id, (m = new Map()));
  return m;
}

function live(st: State, m: Map<string, Entry>, key: string): Entry | undefined {
  const e = m.get(key);
  if (e?.expiration !== undefined && e.expiration <= Math.floor(st.now() / 1000)) {
    m.delete(key);
    return undefined;
  }
  return e;
}

function authorize(st: State, req: IncomingMessage, accountId: string | undefined, need: Permission | undefined): TokenGrant {
  const auth = req.headers.authorization ?? "";
  const m = /^Bearer (\S+)$/.exec(auth);
  const grant = m ? st.tokens[m[1] as string] : undefined;
  if (!grant) throw new HttpError(401, 10000, "Authentication error");
  if (accountId !== undefined && grant.accounts !== "*" && !grant.accounts.includes(accountId)) throw new HttpError(403, 10000, "Authentication error");
  if (need && !grant.permissions.includes(need)) throw new HttpError(403, 10000, "Authentication error");
  return grant;
}

function takeFault(st: State, route: string): Fault | undefined {
  for (const f of st.faults) {
    if (f.route !== undefined && f.route !== route) continue;
    f.seen++;
    if (f.seen <= (f.skip ?? 0)) continue;
    if (f.failed >= (f.times ?? 1)) continue;
    f.failed++;
    return f;
  }
  return undefined;
}

/** The route of a path below BASE_PATH: ["", "accounts", A, "storage", "kv", "namespaces", N, what, ...rest]. */
function routeOf(rawPath: string, parts: string[]): string {
  if (rawPath === "/accounts") return "accounts";
  if (parts[1] !== "accounts" || parts[3] !== "storage" || parts[4] !== "kv" || parts[5] !== "namespaces") return "unknown";
  if (parts.length === 6) return "namespaces";
  if (!parts[6]) return "unknown";
  const what = parts[7];
  if ((what === "values" || what === "metadata") && parts.length > 8) return what;
  if (what === "keys" && parts.length === 8) return "keys";
  if (what === "bulk" && parts.length === 8) return "bulk";
  if (what === "bulk" && parts.length === 9 && (parts[8] === "get" || parts[8] === "delete")) return `bulk/${parts[8]}`;
  return "unknown";
}

/** One page of `items` as the account-level list endpoints page (`page`, `per_page`). */
function paged<T>(c: Call, items: readonly T[], maxPerPage: number): Answer {
  const perPage = Math.max(5, Math.min(maxPerPage, Number(c.url.searchParams.get("per_page") ?? 20) || 20));
  const page = Math.max(1, Number(c.url.searchParams.get("page") ?? 1) || 1);
  const slice = items.slice((page - 1) * perPage, page * perPage);
  const info = { page, per_page: perPage, count: slice.length, total_count: items.length, total_pages: Math.ceil(items.length / perPage) };
  return { route: c.name, status: c.send(200, envelope(slice, info)) };
}

async function handle(st: State, req: IncomingMessage, res: ServerResponse): Promise<Answer> {
  const url = new URL(req.url ?? "/", "http://standin");
  const method = req.method ?? "GET";
  const send = (status: number, body: string | Uint8Array, type = "application/json", headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": type, ...headers });
    res.end(body);
    return status;
  };

  // Control endpoints for a standalone stand-in (loopback only, like the server).
  if (url.pathname === "/__standin/counts" && method === "GET") return { route: "control", status: send(200, JSON.stringify(Object.fromEntries(st.counts))) };
  if (url.pathname === "/__standin/faults" && method === "POST") {
    st.faults.push({ ...(parseJson(await readBody(req, 64 * 1024)) as Fault), seen: 0, failed: 0 });
    return { route: "control", status: send(200, envelope({})) };
  }

  if (!url.pathname.startsWith(`${BASE_PATH}/`)) return { route: "unknown", status: send(404, failure(7000, "No route for that URI")) };
  const rawPath = url.pathname.slice(BASE_PATH.length);
  const parts = rawPath.split("/");
  const route = routeOf(rawPath, parts);
  const name = `${method} ${route}`;
  st.counts.set(name, (st.counts.get(name) ?? 0) + 1);
  const fault = takeFault(st, name);
  if (fault && fault.unsuccessful === undefined) {
    req.resume();
    const headers: Record<string, string> = fault.retryAfter !== undefined ? { "retry-after": String(fault.retryAfter) } : {};
    const status = fault.status ?? 500;
    const [code, message] =
      status === 429 ? [10429, "Too many requests"] : status === 401 || status === 403 ? [10000, "Authentication error"] : [10500, "Internal server error"];
    return { route: name, status: send(status, failure(code, message), "application/json", headers) };
  }
  const c: Call = { st, req, url, method, name, accountId: decodeURIComponent(parts[2] ?? ""), nowSec: Math.floor(st.now() / 1000), send };

  if (route === "accounts" && method === "GET") {
    const grant = authorize(st, req, undefined, undefined);
    return paged(
      c,
      st.accounts.filter((a) => grant.accounts === "*" || grant.accounts.includes(a.id)),
      50,
    );
  }
  if (route === "unknown" || route === "accounts") {
    req.resume();
    return { route: name, status: send(404, failure(7003, `Could not route to ${rawPath}, perhaps your object identifier is invalid?`)) };
  }
  if (!st.accounts.some((a) => a.id === c.accountId)) throw new HttpError(403, 10000, "Authentication error");
  const store = () => namespaceOf(st, decodeURIComponent(parts[6] ?? ""), c.accountId);
  const answer =
    route === "namespaces"
      ? await onNamespaces(c)
      : route === "values" || route === "metadata"
        ? await onValue(c, route, store(), checkKeyName(decodeURIComponent(parts.slice(8).join("/"))))
        : route === "keys" && method === "GET"
          ? onKeys(c, store())
          : route === "bulk" && method === "PUT"
            ? await onBulkPut(c, store(), fault?.unsuccessful ?? 0)
            : route === "bulk/delete" && method === "POST"
              ? await onBulkDelete(c, store())
              : route === "bulk/get" && method === "POST"
                ? await onBulkGet(c, store())
                : undefined;
  if (answer) return answer;
  req.resume();
  return { route: name, status: send(405, failure(10405, `method ${method} not allowed on ${route}`)) };
}

// https://developers.cloudflare.com/api/resources/kv/subresources/namespaces/methods/create/ and .../methods/list/
async function onNamespaces(c: Call): Promise<Answer | undefined> {
  const made = c.st.titles.get(c.accountId) ?? [];
  if (c.method === "POST") {
    authorize(c.st, c.req, c.accountId, "kv:write");
    const body = parseJson(await readBody(c.req, 64 * 1024)) as { title?: unknown } | null;
    const title = typeof body?.title === "string" ? body.title.trim() : "";
    if (!title || title.length > 512) throw new HttpError(400, 10019, "a namespace needs a title of 1..512 characters");
    if (made.some((n) => n.title === title)) throw new HttpError(400, 10014, "a namespace with this account ID and title already exists");
    const ns = { id: randomBytes(16).toString("hex"), title };
    c.st.titles.set(c.accountId, [...made, ns]);
    namespaceOf(c.st, ns.id, c.accountId);
    return { route: c.name, status: c.send(200, envelope({ ...ns, supports_url_encoding: true })) };
  }
  if (c.method === "GET") {
    authorize(c.st, c.req, c.accountId, "kv:read");
    return paged(
      c,
      made.map((n) => ({ ...n, supports_url_encoding: true })),
      100,
    );
  }
  return undefined;
}

async function onValue(c: Call, route: "values" | "metadata", store: Map<string, Entry>, key: string): Promise<Answer | undefined> {
  if (c.method === "GET") {
    authorize(c.st, c.req, c.accountId, "kv:read");
    const e = live(c.st, store, key);
    if (!e) return { route: c.name, status: c.send(404, failure(10009, "get: 'key not found'")) };
    if (route === "metadata") return { route: c.name, status: c.send(200, envelope(e.metadata ?? null)) };
    return { route: c.name, status: c.send(200, e.value, "application/octet-stream") };
  }
  if (route === "values" && c.method === "PUT") {
    authorize(c.st, c.req, c.accountId, "kv:write");
    const body = await readBody(c.req, VALUE_MAX_BYTES + 64 * 1024);
    const type = c.req.headers["content-type"] ?? "";
    let value: Uint8Array;
    let metadata: unknown;
    if (type.startsWith("multipart/form-data")) {
      const form = await new Response(body, { headers: { "content-type": type } }).formData();
      const v = form.get("value");
      if (v === null) throw new HttpError(400, 10025, "multipart body has no value field");
      value = typeof v === "string" ? Buffer.from(v) : new Uint8Array(await v.arrayBuffer());
      const m = form.get("metadata");
      if (m !== null) metadata = checkMetadata(parseJson(Buffer.from(typeof m === "string" ? m : await m.text())));
    } else value = body;
    const expiration = expirationOf(c.url.searchParams.get("expiration") ?? undefined, c.url.searchParams.get("expiration_ttl") ?? undefined, c.nowSec);
    store.set(key, { value: checkValueSize(value), ...(metadata !== undefined ? { metadata } : {}), ...(expiration !== undefined ? { expiration } : {}) });
    return { route: c.name, status: c.send(200, envelope({})) };
  }
  if (route === "values" && c.method === "DELETE") {
    authorize(c.st, c.req, c.accountId, "kv:write");
    store.delete(key);
    return { route: c.name, status: c.send(200, envelope({})) };
  }
  return undefined;
}

function onKeys(c: Call, store: Map<string, Entry>): Answer {
  authorize(c.st, c.req, c.accountId, "kv:read");
  const rawLimit = c.url.searchParams.get("limit");
  const limit = rawLimit === null ? LIST_MAX_LIMIT : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < LIST_MIN_LIMIT || limit > LIST_MAX_LIMIT) {
    throw new HttpError(400, 10022, `Invalid key limit ${rawLimit}; must be between ${LIST_MIN_LIMIT} and ${LIST_MAX_LIMIT}`);
  }
  const prefix = c.url.searchParams.get("prefix") ?? "";
  const cursor = c.url.searchParams.get("cursor");
  const after = cursor ? Buffer.from(cursor, "base64url").toString("utf8") : undefined;
  const names = [...store.keys()]
    .filter((k) => k.startsWith(prefix) && live(c.st, store, k) && (after === undefined || byteOrder(k, after) > 0))
    .sort(byteOrder);
  const page = names.slice(0, Math.min(limit, c.st.pageSize));
  const more = names.length > page.length;
  const result = page.map((k) => {
    const e = store.get(k) as Entry;
    return { name: k, ...(e.expiration !== undefined ? { expiration: e.expiration } : {}), ...(e.metadata !== undefined ? { metadata: e.metadata } : {}) };
  });
  const next = more ? Buffer.from(page.at(-1) as string).toString("base64url") : "";
  return { route: c.name, status: c.send(200, envelope(result, { count: result.length, cursor: next })) };
}

/** `partial`: the first N pairs left unwritten and listed, as a fault asked. */
async function onBulkPut(c: Call, store: Map<string, Entry>, partial: number): Promise<Answer> {
  authorize(c.st, c.req, c.accountId, "kv:write");
  const body = await readBody(c.req, BULK_MAX_BYTES);
  const items = parseJson(body);
  if (!Array.isArray(items)) throw new HttpError(400, 10026, "the body must be an array of key-value pairs");
  if (items.length > BULK_MAX_PAIRS) throw new HttpError(400, 10028, `too many pairs in one bulk write (${items.length}; at most ${BULK_MAX_PAIRS})`);
  // Validate all first: a bad pair writes nothing.
  const writes: [string, Entry][] = items.map((raw: unknown) => {
    const item = raw as { key?: unknown; value?: unknown; base64?: unknown; expiration?: unknown; expiration_ttl?: unknown; metadata?: unknown };
    if (!item || typeof item !== "object") throw new HttpError(400, 10026, "each pair must be an object");
    const key = checkKeyName(item.key);
    if (typeof item.value !== "string") throw new HttpError(400, 10026, `value of ${key} must be a string`);
    if (item.base64 !== undefined && typeof item.base64 !== "boolean") throw new HttpError(400, 10026, "base64 must be a boolean");
    const value = item.base64 ? Buffer.from(item.value, "base64") : Buffer.from(item.value, "utf8");
    const expiration = expirationOf(item.expiration, item.expiration_ttl, c.nowSec);
    const metadata = checkMetadata(item.metadata);
    return [key, { value: checkValueSize(value), ...(metadata !== undefined ? { metadata } : {}), ...(expiration !== undefined ? { expiration } : {}) }];
  });
  const failed = writes.slice(0, partial).map(([k]) => k);
  for (const [k, e] of writes.slice(partial)) store.set(k, e);
  const stored = writes.length - failed.length;
  return { route: c.name, keys: stored, status: c.send(200, envelope({ successful_key_count: stored, unsuccessful_keys: failed })) };
}

async function onBulkDelete(c: Call, store: Map<string, Entry>): Promise<Answer> {
  authorize(c.st, c.req, c.accountId, "kv:write");
  const keys = parseJson(await readBody(c.req, BULK_MAX_BYTES));
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === "string")) throw new HttpError(400, 10026, "the body must be an array of keys");
  if (keys.length > BULK_MAX_PAIRS) throw new HttpError(400, 10028, `too many keys in one bulk delete (${keys.length}; at most ${BULK_MAX_PAIRS})`);
  for (const k of keys as string[]) store.delete(k);
  return { route: c.name, status: c.send(200, envelope({ successful_key_count: keys.length, unsuccessful_keys: [] })) };
}

async function onBulkGet(c: Call, store: Map<string, Entry>): Promise<Answer> {
  authorize(c.st, c.req, c.accountId, "kv:read");
  const q = parseJson(await readBody(c.req, 1024 * 1024)) as { keys?: unknown; type?: unknown; withMetadata?: unknown };
  if (!Array.isArray(q?.keys) || !q.keys.every((k) => typeof k === "string")) throw new HttpError(400, 10026, "keys must be an array of strings");
  if (q.keys.length > BULK_GET_MAX_KEYS) throw new HttpError(400, 10028, `too many keys in one bulk get (${q.keys.length}; at most ${BULK_GET_MAX_KEYS})`);
  const type = q.type ?? "text";
  if (type !== "text" && type !== "json") throw new HttpError(400, 10026, 'type must be "text" or "json"');
  const values: Record<string, unknown> = {};
  for (const key of q.keys as string[]) {
    const e = live(c.st, store, key);
    if (!e) {
      values[key] = null;
      continue;
    }
    const text = Buffer.from(e.value).toString("utf8");
    let value: unknown = text;
    if (type === "json") {
      try {
        value = JSON.parse(text);
      } catch {
        throw new HttpError(400, 10026, `value of ${key} is not JSON`);
      }
    }
    values[key] = q.withMetadata ? { value, metadata: e.metadata ?? null, ...(e.expiration !== undefined ? { expiration: e.expiration } : {}) } : value;
  }
  return { route: c.name, status: c.send(200, envelope({ values })) };
}

/**
 * Starts the stand-in on 127.0.0.1.
 * @example const api = await startCfApi(); process.env.CLOUDFLARE_API_BASE_URL = api.url;
 */
export async function startCfApi(options: StandInOptions = {}): Promise<CfApiStandIn> {
  const st: State = {
    accounts: options.accounts ?? [{ id: DEFAULT_ACCOUNT_ID, name: "edgekv stand-in" }],
    tokens: options.tokens ?? { [DEFAULT_TOKEN]: { accounts: "*", permissions: ["kv:read", "kv:write"] } },
    pageSize: Math.min(LIST_MAX_LIMIT, options.pageSize ?? LIST_MAX_LIMIT),
    now: options.now ?? Date.now,
    stores: new Map(),
    titles: new Map(),
    counts: new Map(),
    log: [],
    faults: [],
  };
  const { counts, log, faults } = st;

  const server = createServer((req, res) => {
    handle(st, req, res).then(
      ({ route, status, keys }) => log.push({ method: req.method ?? "", route, status, ...(keys === undefined ? {} : { keys }) }),
      (err: unknown) => {
        const e = err instanceof HttpError ? err : new HttpError(500, 10500, "internal error");
        if (!(err instanceof HttpError)) console.error("cf-api stand-in:", err);
        req.resume();
        if (!res.headersSent) {
          res.writeHead(e.status, { "content-type": "application/json", connection: "close" });
          res.end(failure(e.code, e.message));
        }
        log.push({ method: req.method ?? "", route: "error", status: e.status });
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}${BASE_PATH}`,
    accountId: st.accounts[0]?.id ?? DEFAULT_ACCOUNT_ID,
    token: Object.keys(st.tokens)[0] ?? DEFAULT_TOKEN,
    counts: () => Object.fromEntries(counts),
    writeRequests: () => [...counts].reduce((n, [k, v]) => n + (WRITE_ROUTES.has(k) ? v : 0), 0),
    log,
    resetCounts: () => {
      counts.clear();
      log.length = 0;
    },
    inject: (fault) => faults.push({ ...fault, seen: 0, failed: 0 }),
    clearFaults: () => {
      faults.length = 0;
    },
    namespace: (namespaceId, accountId) => namespaceOf(st, namespaceId, accountId),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The variables that point wrangler and `edgekv --remote` at a running stand-in, as one `export` line. */
export function exportLine(api: Pick<CfApiStandIn, "url" | "token" | "accountId">, extra: Record<string, string> = {}): string {
  const vars = { CLOUDFLARE_API_BASE_URL: api.url, CLOUDFLARE_API_TOKEN: api.token, CLOUDFLARE_ACCOUNT_ID: api.accountId, ...extra };
  return `export ${Object.entries(vars)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ")}`;
}

/**
 * `npm run cf-api [-- --port N]`: serves in the foreground until SIGINT, SIGTERM or SIGHUP; the
 * export line on stdout, the rest on stderr. `--print-env`: starts it in the background, prints
 * the export line (with EDGEKV_CF_API_PID, to stop it) and returns, so
 * `eval "$(npm run -s cf-api -- --print-env)"` works. The token is fresh per run unless
 * CLOUDFLARE_API_TOKEN is set (never on the command line).
 */
async function standalone(args: string[]): Promise<void> {
  const at = args.indexOf("--port");
  const port = at >= 0 ? Number(args[at + 1]) : 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error("cf-api: --port takes a port number (0..65535; default: a free one)");
    process.exit(2);
  }
  const token = process.env.CLOUDFLARE_API_TOKEN || `standin-${randomBytes(16).toString("hex")}`;
  if (args.includes("--print-env")) {
    // The server is a detached child: $(...) returns once this process exits and stdout closes.
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--port", String(port)], {
      detached: true,
      stdio: ["ignore", "pipe", "ignore"],
      env: { ...process.env, CLOUDFLARE_API_TOKEN: token },
    });
    const line = await new Promise<string>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error("the stand-in did not start within 15 s")), 15_000);
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("\n")) {
          clearTimeout(timer);
          resolve(out.split("\n")[0]!);
        }
      });
      child.on("exit", (code) => reject(new Error(`the stand-in exited (${code}) before it was ready`)));
    });
    child.stdout!.destroy();
    child.unref();
    console.log(`${line} EDGEKV_CF_API_PID=${child.pid}`);
    console.error(`cf-api: Cloudflare API stand-in running in the background (pid ${child.pid}); stop it with: kill $EDGEKV_CF_API_PID`);
    process.exit(0);
  }
  const api = await startCfApi({ port, tokens: { [token]: { accounts: "*", permissions: ["kv:read", "kv:write"] } } });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      void api.close().then(() => process.exit(0));
    });
  }
  // stdout: only the line to eval; a reader that leaves (the --print-env parent) must not stop the server.
  process.stdout.on("error", () => {});
  process.stdout.write(`${exportLine(api)}\n`);
  console.error(`cf-api: Cloudflare API stand-in on ${api.url} (in memory; Ctrl-C stops it). In another shell:`);
  console.error(`  ${exportLine(api)}`);
  console.error("  npx edgekv kv list --env site --remote --config <a wrangler.toml with real-looking namespace ids>");
  console.error("  (npx wrangler kv namespace create SITE_KV, with these variables, makes one and prints its id)");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await standalone(process.argv.slice(2));

// ------------------------------------------------------------ a project wired to it

/** Namespace ids of the throwaway project (32 hex, as Cloudflare's are). */
export const NAMESPACE_IDS = {
  site: "5173000000000000000000000000a001",
  splitter: "5173000000000000000000000000a002",
  auth: "5173000000000000000000000000a003",
} as const;

export interface RemoteProject {
  api: CfApiStandIn;
  dir: string;
  config: string;
  /** Environment for a CLI run against the stand-in (the token in env, never on argv). */
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * A temp project whose wrangler.toml names real-looking namespace ids, and a Cloudflare
 * API stand-in that `--remote` reaches through CLOUDFLARE_API_BASE_URL.
 * @example const p = await remoteProject(); await runCli(["kv", "get", "k", "--env", "site", "--remote", "--config", p.config], { env: p.env });
 */
export async function remoteProject(options: StandInOptions = {}): Promise<RemoteProject> {
  const api = await startCfApi(options);
  const dir = await mkdtemp(join(tmpdir(), "edgekv-remote-"));
  const config = join(dir, "wrangler.toml");
  const envBlock = (env: keyof typeof NAMESPACE_IDS, binding: string) =>
    `[env.${env}]\nname = "edgekv-${env}"\n[[env.${env}.kv_namespaces]]\nbinding = "${binding}"\nid = "${NAMESPACE_IDS[env]}"\n`;
  await writeFile(
    config,
    `name = "edgekv"\ncompatibility_date = "2026-11-01"\n\n${envBlock("site", "SITE_KV")}\n${envBlock("splitter", "ROLLOUT_KV")}\n${envBlock("auth", "TOKENS_KV")}`,
  );
  return {
    api,
    dir,
    config,
    env: {
      CLOUDFLARE_API_BASE_URL: api.url,
      CLOUDFLARE_API_TOKEN: api.token,
      CLOUDFLARE_ACCOUNT_ID: api.accountId,
      WRANGLER_SEND_METRICS: "false",
      // wrangler must not find a developer's own login or config while testing.
      HOME: dir,
      XDG_CONFIG_HOME: join(dir, "xdg"),
      WRANGLER_LOG_PATH: join(dir, "logs"),
    },
    close: async () => {
      await api.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
