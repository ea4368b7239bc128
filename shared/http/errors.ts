import { EdgeKvError, KvLimitError, KvRateLimitError, KvUnavailableError, KvValidationError } from "../kv/errors.ts";

/**
 * An error with an HTTP status, thrown by Worker code and turned into a JSON
 * response by `toErrorResponse`.
 * @example throw new HttpError(405, "method_not_allowed", "use GET or HEAD", { Allow: "GET, HEAD" });
 */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  /** Already logged where it arose (e.g. once per isolate): toErrorResponse does not log it again. */
  readonly logged: boolean;
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}, options?: { cause?: unknown; logged?: boolean }) {
    super(message, options);
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.headers = headers;
    this.logged = options?.logged ?? false;
  }
}

/** Seconds a client should wait after a 503 caused by KV. */
export const KV_RETRY_AFTER_SECONDS = 5;

/**
 * The one place where errors become responses: `{ error, message }` JSON, the
 * right status, never a stack trace. KV failures are 503 with `Retry-After`.
 * The client gets a code and a generic message; what only an operator should
 * see (origin URLs, fetch errors, KV keys and error text, stored-data
 * validation) goes to the logs. Only a 4xx caused by the client's own input
 * says what was wrong with that input.
 * @example
 * try { return await handle(request, deps) } catch (err) { return toErrorResponse(err) }
 */
export function toErrorResponse(err: unknown, extraHeaders: Record<string, string> = {}): Response {
  let status = 500;
  let code = "internal_error";
  let message = "internal error";
  const headers: Record<string, string> = { "Cache-Control": "no-store", ...extraHeaders };
  if (err instanceof HttpError) {
    status = err.status;
    code = err.code;
    message = err.message;
    Object.assign(headers, err.headers);
  } else if (err instanceof KvUnavailableError || err instanceof KvRateLimitError) {
    status = 503;
    code = "kv_unavailable";
    message = "storage is temporarily unavailable, retry shortly";
    headers["Retry-After"] = String(KV_RETRY_AFTER_SECONDS);
  } else if (err instanceof KvValidationError) {
    status = err.phase === "write" ? 400 : 503;
    code = err.phase === "write" ? "invalid_input" : "invalid_stored_data";
    // A write's issues describe the client's own input; a read's describe stored data.
    message =
      err.phase === "write"
        ? err.issues
            .slice(0, 3)
            .map((i) => (i.path ? `${i.path}: ${i.message}` : i.message))
            .join("; ")
        : "stored data is invalid, retry shortly";
    if (status === 503) headers["Retry-After"] = String(KV_RETRY_AFTER_SECONDS);
  } else if (err instanceof KvLimitError) {
    status = 400;
    code = "kv_limit";
    message = "the request exceeds a storage limit";
  } else if (err instanceof EdgeKvError) {
    status = 500;
    code = err.code;
  }
  if (!(err instanceof HttpError) || (status >= 500 && !err.logged)) logError(code, err);
  return Response.json({ error: code, message }, { status, headers });
}

/** One JSON log line with the error's message and its causes (never sent to the client). */
function logError(code: string, err: unknown): void {
  const causes: string[] = [];
  for (let c: unknown = err instanceof Error ? err.cause : undefined; c !== undefined && causes.length < 4; c = c instanceof Error ? c.cause : undefined) {
    causes.push(c instanceof Error ? `${c.name}: ${c.message}` : String(c));
  }
  console.error(
    JSON.stringify({ level: "error", code, message: err instanceof Error ? err.message : String(err), ...(causes.length ? { cause: causes } : {}) }),
  );
}
