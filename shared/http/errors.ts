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
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/** Seconds a client should wait after a 503 caused by KV. */
export const KV_RETRY_AFTER_SECONDS = 5;

/**
 * The one place where errors become responses: `{ error, message }` JSON, the
 * right status, never a stack trace. KV failures are 503 with `Retry-After`.
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
    message = err.message;
    if (status === 503) headers["Retry-After"] = String(KV_RETRY_AFTER_SECONDS);
  } else if (err instanceof KvLimitError) {
    status = 400;
    code = "kv_limit";
    message = err.message;
  } else if (err instanceof EdgeKvError) {
    status = 500;
    code = err.code;
    message = err.message;
  }
  if (status >= 500) console.error(JSON.stringify({ level: "error", code, message: err instanceof Error ? err.message : String(err) }));
  return Response.json({ error: code, message }, { status, headers });
}
