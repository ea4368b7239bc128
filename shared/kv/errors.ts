/**
 * Typed errors of the KV library. Each names what went wrong and carries the
 * context a caller needs to act; `toErrorResponse` (shared/http) turns them
 * into HTTP responses in one place.
 */

/**
 * Base class: every error the library throws is an `EdgeKvError`.
 * @example if (err instanceof EdgeKvError) console.log(err.code) // "limit", "validation", "unavailable"...
 */
export class EdgeKvError extends Error {
  /** Stable machine-readable code, e.g. `"limit"`, `"validation"`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    // Set here, not from new.target.name: bundles are minified without keep_names.
    this.name = "EdgeKvError";
    this.code = code;
  }
}

/** Which documented KV limit a call would break. */
export type KvLimit =
  | "key-empty"
  | "key-bytes"
  | "key-dot"
  | "value-bytes"
  | "metadata-bytes"
  | "metadata-json"
  | "expiration-ttl"
  | "expiration"
  | "cache-ttl"
  | "list-limit";

/**
 * A call would break a documented KV limit; thrown before KV is called.
 * @example
 * try { await store.put("k", v, { expirationTtl: 10 }) }
 * catch (e) { if (e instanceof KvLimitError) console.log(e.limit, e.value) } // "expiration-ttl", 10
 */
export class KvLimitError extends EdgeKvError {
  override readonly name = "KvLimitError";
  readonly limit: KvLimit;
  /** The offending value (a key, a byte count, a number of seconds). */
  readonly value: unknown;
  /** The bound that was crossed, when there is one. */
  readonly bound: number | undefined;
  constructor(limit: KvLimit, value: unknown, message: string, bound?: number) {
    super("limit", `KV limit ${limit}: ${message}`);
    this.limit = limit;
    this.value = value;
    this.bound = bound;
  }
}

/** One problem found by a schema, with the path of the field. */
export interface ValidationIssue {
  readonly message: string;
  readonly path: string;
}

/**
 * A value or its metadata failed the store's schema (or was not valid JSON).
 * On read this is never a cast and never a crash: the caller picks the fallback.
 * @example
 * try { cfg = await store.get("config") } catch (e) { if (e instanceof KvValidationError) cfg = DEFAULTS }
 */
export class KvValidationError extends EdgeKvError {
  override readonly name = "KvValidationError";
  readonly key: string;
  readonly phase: "read" | "write";
  readonly target: "value" | "metadata";
  readonly issues: readonly ValidationIssue[];
  constructor(key: string, phase: "read" | "write", target: "value" | "metadata", issues: readonly ValidationIssue[]) {
    const detail = issues
      .slice(0, 3)
      .map((i) => (i.path ? `${i.path}: ${i.message}` : i.message))
      .join("; ");
    super("validation", `invalid ${target} ${phase === "read" ? "read from" : "for"} key "${key}": ${detail}`);
    this.key = key;
    this.phase = phase;
    this.target = target;
    this.issues = issues;
  }
}

/**
 * A write kept failing with 429 (more than one write per second to one key).
 * @example catch (e) { if (e instanceof KvRateLimitError) console.log(e.key, e.attempts) }
 */
export class KvRateLimitError extends EdgeKvError {
  override readonly name = "KvRateLimitError";
  readonly key: string;
  readonly attempts: number;
  constructor(key: string, attempts: number, cause: unknown) {
    super("rate-limited", `KV write to "${key}" was rate limited (429) ${attempts} time(s); one write per second per key`, {
      cause,
    });
    this.key = key;
    this.attempts = attempts;
  }
}

/**
 * KV itself failed (network, storage, binding). The original error is the `cause`.
 * @example catch (e) { if (e instanceof KvUnavailableError) return toErrorResponse(e) } // 503 + Retry-After
 */
export class KvUnavailableError extends EdgeKvError {
  override readonly name = "KvUnavailableError";
  readonly operation: string;
  readonly key: string | undefined;
  constructor(operation: string, key: string | undefined, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super("unavailable", `KV ${operation}${key === undefined ? "" : ` "${key}"`} failed: ${why}`, { cause });
    this.operation = operation;
    this.key = key;
  }
}

/**
 * The store's codec cannot do this (e.g. an isolate cache on a stream store).
 * @example new KvReader(kv, { codec: stream(), cache: { ttlMs: 1, maxEntries: 1 } }) // throws KvUnsupportedError
 */
export class KvUnsupportedError extends EdgeKvError {
  override readonly name = "KvUnsupportedError";
  constructor(message: string) {
    super("unsupported", message);
  }
}
