/**
 * A `KvBinding` over Workers KV's REST API
 * (`/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/...`), so the site,
 * rollout, token and kv commands run on `--remote` unchanged, plus `bulkPut` and
 * `bulkDelete` for many keys per request. Endpoints, as documented at
 * https://developers.cloudflare.com/api/resources/kv/subresources/namespaces/ :
 *   GET    values/{key}      the raw value (404 when missing)
 *   PUT    values/{key}      raw body, or multipart `value` + `metadata`; ?expiration / ?expiration_ttl
 *   DELETE values/{key}
 *   GET    metadata/{key}    the metadata as `result`
 *   GET    keys              ?prefix &limit &cursor; `result_info.cursor` empty on the last page
 *   PUT    bulk              up to 10,000 {key, value, base64?, expiration?, expiration_ttl?, metadata?}, < 100 MB
 *   POST   bulk/delete       up to 10,000 keys
 *   POST   bulk/get          {keys (<= 100), type, withMetadata}: text values only
 */
import type { KvValueWithMetadata } from "../../shared/kv/binding.ts";
import type { KvBinding, KvListKey, KvListResult, KvPutOptions } from "../../shared/kv/index.ts";
import { KV_LIMITS, KvLimitError } from "../../shared/kv/index.ts";
import type { BulkWriter, KvPair, WriteBatcher } from "./bulk.ts";
import { boundedStream, CfApiError, MAX_ATTEMPTS, MAX_VALUE_RESPONSE_BYTES, readBounded, type CfApiClient } from "./client.ts";

/** Pairs per bulk write, and keys per bulk delete (the API's limit). */
export const BULK_MAX_PAIRS = 10_000;
/** A bulk write's JSON body stays under this many bytes (the API takes "100 megabytes or less"). */
export const BULK_MAX_BYTES = 100_000_000;
/** The smallest page the list endpoint takes; a smaller `limit` is raised to it. */
export const LIST_MIN_LIMIT = 10;

/** Ids that go into the URL path: letters, digits, `-` and `_`, at most 32 (the API's maxLength). */
const ID_RE = /^[A-Za-z0-9_-]{1,32}$/;

/** What a remote binding has done: for progress lines and request counting. */
export interface RemoteStats {
  requests: number;
  writeRequests: number;
  keysWritten: number;
  bytesSent: number;
}

export type RemoteKvBinding = KvBinding &
  BulkWriter &
  WriteBatcher & {
    bulkDelete(keys: readonly string[]): Promise<void>;
    readonly stats: RemoteStats;
    /** "remote (account A, namespace N)". */
    readonly where: string;
  };

interface BulkResult {
  successful_key_count?: number;
  unsuccessful_keys?: string[];
}

type ValueType = "text" | "arrayBuffer" | "stream";
type Got = string | ArrayBuffer | ReadableStream | null;

/**
 * The key as one URL path segment. "." and ".." are refused: a URL parser resolves them
 * (and their percent-encoded forms) as directory steps, so they would name another route.
 */
export function keySegment(key: string): string {
  if (key === "." || key === "..") throw new KvLimitError("key-dot", key, `"${key}" is not a legal key`);
  if (key.length === 0) throw new KvLimitError("key-empty", key, "a key must be at least 1 byte", 1);
  return encodeURIComponent(key);
}

function toBytes(value: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof value === "string") return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

function bytesToBuffer(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** One bulk item as JSON text: binary values as base64 (`base64: true`), text as is. */
function bulkItem(p: KvPair): string {
  const binary = typeof p.value !== "string";
  return JSON.stringify({
    key: p.key,
    value: binary ? Buffer.from(p.value as Uint8Array).toString("base64") : p.value,
    ...(binary ? { base64: true } : {}),
    ...(p.expiration !== undefined ? { expiration: p.expiration } : {}),
    ...(p.expirationTtl !== undefined ? { expiration_ttl: p.expirationTtl } : {}),
    ...(p.metadata !== undefined ? { metadata: p.metadata } : {}),
  });
}

/** Splits items into request bodies of at most BULK_MAX_PAIRS items and under BULK_MAX_BYTES. */
export function bulkBodies(items: readonly string[]): { body: string; count: number }[] {
  const out: { body: string; count: number }[] = [];
  let batch: string[] = [];
  let bytes = 2;
  for (const item of items) {
    const size = Buffer.byteLength(item) + 1;
    if (batch.length > 0 && (batch.length >= BULK_MAX_PAIRS || bytes + size >= BULK_MAX_BYTES)) {
      out.push({ body: `[${batch.join(",")}]`, count: batch.length });
      batch = [];
      bytes = 2;
    }
    batch.push(item);
    bytes += size;
  }
  if (batch.length) out.push({ body: `[${batch.join(",")}]`, count: batch.length });
  return out;
}

function asText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** One namespace over the REST API; `remoteKv` hands out its methods bound. */
class RemoteNamespace {
  readonly stats: RemoteStats = { requests: 0, writeRequests: 0, keysWritten: 0, bytesSent: 0 };
  /** Puts held by `batch`, sent as one bulk write when it ends; null outside a batch. */
  private held: KvPair[] | null = null;

  private readonly client: CfApiClient;
  private readonly ns: string;

  constructor(client: CfApiClient, ns: string) {
    this.client = client;
    this.ns = ns;
  }

  private count(write: boolean, keys: number, bytes: number): void {
    this.stats.requests++;
    if (write) {
      this.stats.writeRequests++;
      this.stats.keysWritten += keys;
    }
    this.stats.bytesSent += bytes;
  }

  /** The raw value, or null when the key is missing. */
  async readValue(key: string, type: ValueType): Promise<Got> {
    const res = await this.client.send("GET", `${this.ns}/values/${keySegment(key)}`, { permission: "kv-read", allow404: true });
    this.count(false, 0, 0);
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {});
      return null;
    }
    if (type === "stream") return res.body ? boundedStream(res.body, MAX_VALUE_RESPONSE_BYTES, `the value of ${key}`) : new Response("").body;
    const bytes = await readBounded(res.body, MAX_VALUE_RESPONSE_BYTES, `the value of ${key}`);
    return type === "text" ? new TextDecoder().decode(bytes) : bytesToBuffer(bytes);
  }

  async readMetadata(key: string): Promise<unknown> {
    const res = await this.client.send("GET", `${this.ns}/metadata/${keySegment(key)}`, { permission: "kv-read", allow404: true });
    this.count(false, 0, 0);
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {});
      return null;
    }
    const raw = await readBounded(res.body, 64 * 1024, `the metadata of ${key}`);
    const env = JSON.parse(new TextDecoder().decode(raw)) as { success?: boolean; result?: unknown };
    if (env.success !== true) throw new CfApiError(`Cloudflare API GET metadata/{key} failed for ${key}`, res.status);
    return env.result ?? null;
  }

  /** Bulk get (text only, as the API documents), 100 keys a request. */
  async bulkGet(keys: readonly string[], withMetadata: boolean): Promise<Map<string, unknown>> {
    const out = new Map<string, unknown>();
    for (let i = 0; i < keys.length; i += KV_LIMITS.bulkGetMaxKeys) {
      const chunk = keys.slice(i, i + KV_LIMITS.bulkGetMaxKeys);
      for (const k of chunk) keySegment(k);
      const body = JSON.stringify({ keys: chunk, type: "text", withMetadata });
      const env = await this.client.json<{ values?: Record<string, unknown> }>("POST", `${this.ns}/bulk/get`, {
        body,
        contentType: "application/json",
        permission: "kv-read",
      });
      this.count(false, 0, Buffer.byteLength(body));
      const values = env.result?.values ?? {};
      for (const k of chunk) out.set(k, Object.hasOwn(values, k) ? values[k] : null);
    }
    return out;
  }

  async get(keyOrKeys: string | string[], options?: { type?: ValueType } | ValueType): Promise<unknown> {
    const type = (typeof options === "string" ? options : options?.type) ?? "text";
    if (Array.isArray(keyOrKeys)) {
      if (type !== "text") throw new CfApiError("a bulk get reads text only", 0);
      const got = await this.bulkGet(keyOrKeys, false);
      return new Map([...got].map(([k, v]) => [k, asText(v)]));
    }
    return this.readValue(keyOrKeys, type);
  }

  async getWithMetadata(keyOrKeys: string | string[], options?: { type?: ValueType } | ValueType): Promise<unknown> {
    const type = (typeof options === "string" ? options : options?.type) ?? "text";
    if (Array.isArray(keyOrKeys) || type === "text") {
      if (type !== "text") throw new CfApiError("a bulk get reads text only", 0);
      // One request for a text value and its metadata: the bulk get with withMetadata.
      const keys = Array.isArray(keyOrKeys) ? keyOrKeys : [keyOrKeys];
      const got = await this.bulkGet(keys, true);
      const shaped = new Map<string, KvValueWithMetadata<string>>();
      for (const [k, v] of got) {
        const entry = v as { value?: unknown; metadata?: unknown } | null;
        shaped.set(k, { value: entry ? asText(entry.value) : null, metadata: entry?.metadata ?? null, cacheStatus: null });
      }
      return Array.isArray(keyOrKeys) ? shaped : shaped.get(keyOrKeys);
    }
    // Bytes: the value and its metadata are two documented reads.
    const [value, metadata] = await Promise.all([this.readValue(keyOrKeys, type), this.readMetadata(keyOrKeys)]);
    if (value === null) return { value: null, metadata: null, cacheStatus: null };
    return { value, metadata, cacheStatus: null };
  }

  async batch<T>(fn: () => Promise<T>): Promise<T> {
    if (this.held) return fn();
    this.held = [];
    try {
      const result = await fn();
      const pairs = this.held;
      this.held = null;
      if (pairs.length) await this.bulkPut(pairs);
      return result;
    } finally {
      this.held = null;
    }
  }

  async put(key: string, value: string | ArrayBuffer | ArrayBufferView | ReadableStream, options: KvPutOptions = {}): Promise<void> {
    const segment = keySegment(key);
    // A stream is read first (bounded): a retry must be able to send the body again.
    const data = value instanceof ReadableStream ? await readBounded(value, KV_LIMITS.valueMaxBytes, `the value of ${key}`) : toBytes(value);
    if (this.held) {
      this.held.push({
        key,
        value: data,
        ...(options.metadata !== undefined ? { metadata: options.metadata } : {}),
        ...(options.expiration !== undefined ? { expiration: options.expiration } : {}),
        ...(options.expirationTtl !== undefined ? { expirationTtl: options.expirationTtl } : {}),
      });
      return;
    }
    const query = { expiration: options.expiration, expiration_ttl: options.expirationTtl };
    let body: string | Uint8Array | FormData = data;
    let contentType: string | undefined = "application/octet-stream";
    if (options.metadata !== undefined) {
      // Metadata goes with the value as multipart/form-data fields `value` and `metadata`.
      const form = new FormData();
      form.set("value", new Blob([typeof data === "string" ? data : bytesToBuffer(data)]));
      form.set("metadata", JSON.stringify(options.metadata));
      body = form;
      contentType = undefined;
    }
    await this.client.json("PUT", `${this.ns}/values/${segment}`, { body, query, permission: "kv-write", ...(contentType ? { contentType } : {}) });
    this.count(true, 1, typeof data === "string" ? Buffer.byteLength(data) : data.byteLength);
  }

  async delete(key: string): Promise<void> {
    await this.client.json("DELETE", `${this.ns}/values/${keySegment(key)}`, { permission: "kv-write" });
    this.count(true, 0, 0);
  }

  async list(options: { prefix?: string | null; limit?: number; cursor?: string | null } = {}): Promise<KvListResult> {
    const limit = Math.min(KV_LIMITS.listMaxLimit, Math.max(LIST_MIN_LIMIT, options.limit ?? KV_LIMITS.listMaxLimit));
    const env = await this.client.json<KvListKey[]>("GET", `${this.ns}/keys`, {
      query: { limit, prefix: options.prefix ?? undefined, cursor: options.cursor ?? undefined },
      permission: "kv-read",
    });
    this.count(false, 0, 0);
    const keys = (Array.isArray(env.result) ? env.result : []).map((k) => ({
      name: String(k.name),
      ...(k.expiration !== undefined ? { expiration: k.expiration } : {}),
      ...(k.metadata !== undefined ? { metadata: k.metadata } : {}),
    }));
    const cursor = env.result_info?.cursor;
    return cursor ? { list_complete: false, keys, cursor, cacheStatus: null } : { list_complete: true, keys, cacheStatus: null };
  }

  async bulkPut(pairs: readonly KvPair[]): Promise<void> {
    for (const p of pairs) keySegment(p.key);
    const items = pairs.map(bulkItem);
    // Each body is sent, and its failures retried, before the next: the caller's order across calls holds.
    let at = 0;
    for (const { count: n } of bulkBodies(items)) {
      await this.sendBatch(pairs.slice(at, at + n), items.slice(at, at + n));
      at += n;
    }
  }

  /** Sends one bulk body; the keys the API lists as unwritten are sent again (bounded). */
  private async sendBatch(batch: readonly KvPair[], items: readonly string[]): Promise<void> {
    let todo = batch.map((p, i) => ({ key: p.key, item: items[i] as string }));
    for (let round = 1; ; round++) {
      const body = `[${todo.map((t) => t.item).join(",")}]`;
      const env = await this.client.json<BulkResult | null>("PUT", `${this.ns}/bulk`, { body, contentType: "application/json", permission: "kv-write" });
      const failed = new Set(env.result?.unsuccessful_keys ?? []);
      this.count(true, todo.length - failed.size, Buffer.byteLength(body));
      if (failed.size === 0) return;
      if (round >= MAX_ATTEMPTS) {
        throw new CfApiError(`Cloudflare API bulk write left ${failed.size} key(s) unwritten after ${round} attempts`, 200);
      }
      todo = todo.filter((t) => failed.has(t.key));
    }
  }

  async bulkDelete(keys: readonly string[]): Promise<void> {
    for (const k of keys) keySegment(k);
    for (let i = 0; i < keys.length; i += BULK_MAX_PAIRS) {
      const body = JSON.stringify(keys.slice(i, i + BULK_MAX_PAIRS));
      await this.client.json<BulkResult | null>("POST", `${this.ns}/bulk/delete`, { body, contentType: "application/json", permission: "kv-write" });
      this.count(true, 0, Buffer.byteLength(body));
    }
  }
}

/**
 * Opens a namespace through the REST API.
 * @example const kv = remoteKv(client, accountId, namespaceId); await kv.put("k", "v");
 */
export function remoteKv(client: CfApiClient, accountId: string, namespaceId: string): RemoteKvBinding {
  if (!ID_RE.test(accountId)) throw new CfApiError(`the account id "${client.redact(accountId)}" is not an id (letters, digits, - or _; at most 32)`, 0);
  if (!ID_RE.test(namespaceId)) throw new CfApiError(`the namespace id "${client.redact(namespaceId)}" is not an id (letters, digits, - or _; at most 32)`, 0);
  const n = new RemoteNamespace(client, `/accounts/${accountId}/storage/kv/namespaces/${namespaceId}`);
  return {
    get: n.get.bind(n) as KvBinding["get"],
    getWithMetadata: n.getWithMetadata.bind(n) as KvBinding["getWithMetadata"],
    put: n.put.bind(n),
    delete: n.delete.bind(n),
    list: n.list.bind(n),
    bulkPut: n.bulkPut.bind(n),
    bulkDelete: n.bulkDelete.bind(n),
    batch: n.batch.bind(n),
    stats: n.stats,
    where: `remote (account ${accountId}, namespace ${namespaceId})`,
  };
}
