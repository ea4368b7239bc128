/**
 * A small client for Cloudflare's v4 API (https://developers.cloudflare.com/api/), as
 * `edgekv --remote` uses it: bearer token, the v4 envelope, bounded retries of 429 and
 * 5xx honouring `Retry-After`, size-bounded reads, and errors of one line that never
 * hold the token.
 */
import { DEFAULT_API_BASE, parseApiBase } from "../../shared/http/api-base.ts";
import { readBounded as readBoundedBody } from "../../shared/http/body.ts";
import { CliError } from "../errors.ts";
import { oneLine, registerSecret } from "../output.ts";

/** Cloudflare's API base, as wrangler uses it; `CLOUDFLARE_API_BASE_URL` overrides it. */
export const DEFAULT_API_BASE_URL = DEFAULT_API_BASE;
/** Attempts per request, the first included (429, 5xx and network errors are retried). */
export const MAX_ATTEMPTS = 5;
/** First backoff without `Retry-After`; doubles each retry, with full jitter. */
export const RETRY_BASE_DELAY_MS = 500;
/** No backoff we choose is longer than this. */
export const RETRY_MAX_DELAY_MS = 15_000;
/** A server's `Retry-After` is honoured up to this (a longer wait is a failure, not a hang). */
export const RETRY_AFTER_MAX_MS = 60_000;
/** One attempt may take this long (a 100 MB bulk write on a slow link included). */
export const REQUEST_TIMEOUT_MS = 180_000;
/** The most JSON we read from one response (a bulk get of 100 text values fits). */
export const MAX_JSON_RESPONSE_BYTES = 64 * 1024 * 1024;
/** The most bytes of one value we read: KV's value limit. */
export const MAX_VALUE_RESPONSE_BYTES = 25 * 1024 * 1024;
/** A server message is cut to this many characters before it reaches a terminal. */
const MAX_MESSAGE_CHARS = 300;

/** What a request needs: which permission names a 401/403 (reads and writes differ). */
export type Permission = "kv-read" | "kv-write" | "accounts";

const PERMISSION_HINT: Record<Permission, string> = {
  "kv-read": 'the permission "Workers KV Storage: Read" (or Edit)',
  "kv-write": 'the permission "Workers KV Storage: Edit"',
  accounts: "access to an account (or set CLOUDFLARE_ACCOUNT_ID)",
};

/** One entry of the envelope's `errors[]`. */
export interface ApiMessage {
  code: number;
  message: string;
}

/** The v4 envelope around every JSON response. */
export interface Envelope<T> {
  success: boolean;
  errors: ApiMessage[];
  messages: ApiMessage[];
  result: T;
  result_info?: { cursor?: string; count?: number; page?: number; per_page?: number; total_count?: number };
}

/** An error answered by the API (or the way to it): exit 1, one line, the token never in it. */
export class CfApiError extends CliError {
  readonly status: number;
  readonly codes: readonly number[];
  constructor(message: string, status: number, codes: readonly number[] = []) {
    super(message, 1, "failed");
    this.name = "CfApiError";
    this.status = status;
    this.codes = codes;
  }
}

/**
 * The API base as a URL, refused unless it is https (plain http only to this machine,
 * for a local stand-in), without credentials, query or fragment (shared/http/api-base.ts).
 * @example checkApiBase("http://127.0.0.1:8787/client/v4") // ok; "http://example.com" throws
 */
export function checkApiBase(raw: string): URL {
  try {
    return parseApiBase(raw);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/** One request as the client saw it (for progress and request counting). */
export interface RequestInfo {
  method: string;
  /** The path after the base, e.g. `/accounts/ID/storage/kv/namespaces/ID/bulk`. */
  path: string;
  status: number;
  attempt: number;
  /** Bytes of the request body. */
  bytesSent: number;
}

export interface ClientOptions {
  baseUrl: string;
  token: string;
  /** Injectable for tests; default the global fetch. */
  fetch?: typeof fetch;
  /** Injectable for tests; default a timer. */
  sleep?: (ms: number) => Promise<void>;
  /** Injectable for tests; default Math.random. */
  random?: () => number;
  /** Called after every attempt (counting, progress). */
  onRequest?: (info: RequestInfo) => void;
}

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  /** A body that can be sent again on a retry (never a stream). */
  body?: string | Uint8Array | FormData;
  contentType?: string;
  permission: Permission;
}

/** The delay before retry `attempt` (1-based): `Retry-After` when given, else capped exponential with full jitter. */
export function retryDelay(attempt: number, retryAfter: string | null, random: () => number = Math.random, nowMs = Date.now()): number {
  if (retryAfter !== null) {
    const seconds = Number(retryAfter);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - nowMs;
    if (Number.isFinite(ms)) return Math.min(RETRY_AFTER_MAX_MS, Math.max(0, ms));
  }
  const cap = Math.min(RETRY_MAX_DELAY_MS, RETRY_BASE_DELAY_MS * 2 ** (attempt - 1));
  return Math.floor(random() * cap);
}

/** Reads at most `max` bytes of an API answer (shared/http/body.ts); more is refused as a CfApiError. */
export const readBounded = (body: ReadableStream<Uint8Array> | null, max: number, what: string): Promise<Uint8Array> =>
  readBoundedBody(body, max, what, (m, w) => new CfApiError(`the API sent more than ${m} bytes for ${w}; refused`, 0));

/** A stream that errors once more than `max` bytes went through it. */
export function boundedStream(body: ReadableStream<Uint8Array>, max: number, what: string): ReadableStream<Uint8Array> {
  let total = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        total += chunk.byteLength;
        if (total > max) controller.error(new CfApiError(`the API sent more than ${max} bytes for ${what}; refused`, 0));
        else controller.enqueue(chunk);
      },
    }),
  );
}

export class CfApiClient {
  readonly base: URL;
  readonly #token: string;
  readonly #fetch: typeof fetch;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #onRequest: ((info: RequestInfo) => void) | undefined;

  constructor(options: ClientOptions) {
    this.base = checkApiBase(options.baseUrl);
    if (!options.token || /[\s\u0000-\u001f]/.test(options.token)) throw new CliError("the Cloudflare API token is empty or malformed");
    this.#token = options.token;
    // Wherever it comes from (the environment, `wrangler auth token`), the CLI never prints it.
    registerSecret(options.token);
    this.#fetch = options.fetch ?? fetch;
    this.#sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.#random = options.random ?? Math.random;
    this.#onRequest = options.onRequest;
  }

  /** A message from outside, safe to print: one line, the token cut out, control characters escaped (cli/output.ts), bounded. */
  redact(text: string): string {
    // Redacted before it is cut: a cut through the token would leave part of it.
    const clean = oneLine(text);
    return clean.length > MAX_MESSAGE_CHARS ? `${clean.slice(0, MAX_MESSAGE_CHARS)}…` : clean;
  }

  /**
   * Sends one request, retrying 429, 5xx and network errors, and returns the response
   * (any 2xx, or a 404 when `allow404`). Other statuses become a `CfApiError`.
   */
  async send(method: string, path: string, options: RequestOptions & { allow404?: boolean }): Promise<Response> {
    const url = new URL(this.base.href);
    url.pathname = `${this.base.pathname}${path}`;
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}`, accept: "application/json" };
    if (options.contentType) headers["content-type"] = options.contentType;
    const bytesSent = typeof options.body === "string" ? Buffer.byteLength(options.body) : options.body instanceof Uint8Array ? options.body.byteLength : 0;
    let lastError = "";
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      let res: Response;
      try {
        res = await this.#fetch(url, {
          method,
          headers,
          body: options.body as RequestInit["body"],
          // A redirect is never followed: the token goes to the configured base and nowhere else.
          redirect: "manual",
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
      } catch (err) {
        // A network error names the host at most; the token is in a header, never in the URL.
        lastError = this.redact(err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err));
        this.#onRequest?.({ method, path, status: 0, attempt, bytesSent });
        if (attempt < MAX_ATTEMPTS) await this.#sleep(retryDelay(attempt, null, this.#random));
        continue;
      }
      this.#onRequest?.({ method, path, status: res.status, attempt, bytesSent });
      if (res.ok || (res.status === 404 && options.allow404)) return res;
      if (res.status >= 300 && res.status < 400) {
        await res.body?.cancel().catch(() => {});
        throw new CfApiError(
          `the Cloudflare API answered ${method} ${routeOf(path)} with a redirect (HTTP ${res.status}); not followed (the token is sent to ${this.base.host} only)`,
          res.status,
        );
      }
      const retryable = res.status === 429 || res.status >= 500;
      if (retryable && attempt < MAX_ATTEMPTS) {
        await res.body?.cancel().catch(() => {});
        await this.#sleep(retryDelay(attempt, res.headers.get("retry-after"), this.#random));
        continue;
      }
      throw await this.#error(method, path, res, options.permission, retryable ? attempt : 0);
    }
    throw new CfApiError(`cannot reach the Cloudflare API at ${this.base.host} (${method} ${routeOf(path)}, ${MAX_ATTEMPTS} attempts): ${lastError}`, 0);
  }

  /** A JSON request whose envelope must say `success`; returns the envelope. */
  async json<T>(method: string, path: string, options: RequestOptions): Promise<Envelope<T>> {
    const res = await this.send(method, path, options);
    return this.#envelope<T>(method, path, res);
  }

  async #envelope<T>(method: string, path: string, res: Response): Promise<Envelope<T>> {
    const raw = await readBounded(res.body, MAX_JSON_RESPONSE_BYTES, `${method} ${routeOf(path)}`);
    let env: Envelope<T>;
    try {
      env = JSON.parse(new TextDecoder().decode(raw)) as Envelope<T>;
    } catch {
      throw new CfApiError(`the Cloudflare API answered ${method} ${routeOf(path)} with something that is not JSON (HTTP ${res.status})`, res.status);
    }
    if (!env || typeof env !== "object" || env.success !== true) {
      throw new CfApiError(`Cloudflare API ${method} ${routeOf(path)} failed: ${this.#describe(env?.errors)}`, res.status, codesOf(env?.errors));
    }
    return env;
  }

  async #error(method: string, path: string, res: Response, permission: Permission, attempts: number): Promise<CfApiError> {
    let errors: ApiMessage[] | undefined;
    try {
      const raw = await readBounded(res.body, 64 * 1024, "an error");
      errors = (JSON.parse(new TextDecoder().decode(raw)) as Partial<Envelope<unknown>>).errors;
    } catch {
      // Not an envelope (a proxy's HTML page): the status says enough.
    }
    const detail = this.#describe(errors);
    const route = `${method} ${routeOf(path)}`;
    const tried = attempts > 1 ? ` after ${attempts} attempts` : "";
    if (res.status === 401 || res.status === 403) {
      return new CfApiError(
        `the Cloudflare API refused the token (HTTP ${res.status}, ${detail}) on ${route}: it is invalid, or lacks ${PERMISSION_HINT[permission]} on this account`,
        res.status,
        codesOf(errors),
      );
    }
    if (res.status === 429) {
      // Worded without the status number: the library retries errors that say "429" again (its own backoff on top of ours).
      return new CfApiError(`Cloudflare API rate limit (Too Many Requests, ${detail}) on ${route}${tried}; try again later`, 429, codesOf(errors));
    }
    return new CfApiError(`Cloudflare API error (HTTP ${res.status}, ${detail}) on ${route}${tried}`, res.status, codesOf(errors));
  }

  #describe(errors: ApiMessage[] | undefined): string {
    if (!Array.isArray(errors) || errors.length === 0) return "no error details";
    return this.redact(
      errors
        .slice(0, 3)
        .map((e) => `code ${Number(e?.code) || "?"}: ${String(e?.message ?? "")}`)
        .join("; "),
    );
  }
}

function codesOf(errors: ApiMessage[] | undefined): number[] {
  return Array.isArray(errors) ? errors.map((e) => Number(e?.code)).filter(Number.isFinite) : [];
}

/** The route without ids and keys, for messages: `/accounts/ID/storage/kv/namespaces/ID/values/K` -> `values/{key}`. */
export function routeOf(path: string): string {
  const m = /\/storage\/kv\/namespaces\/[^/]+\/(values|metadata|keys|bulk)(\/get|\/delete)?/.exec(path);
  if (!m) return path.startsWith("/accounts") && !path.includes("/storage") ? "accounts" : "api";
  return m[1] === "values" || m[1] === "metadata" ? `${m[1]}/{key}` : `${m[1]}${m[2] ?? ""}`;
}
