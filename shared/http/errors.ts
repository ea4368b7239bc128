import { EdgeKvError, type KvValidationError } from "../kv/errors.ts";

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

const KV_DOWN: [number, string, string] = [503, "kv_unavailable", "storage is temporarily unavailable, retry shortly"];
/** What a KV failure answers, by `EdgeKvError.code`: status, code, and the client's message (details go to the logs). */
const KV_ANSWERS: Record<string, [number, string, string]> = {
  unavailable: KV_DOWN,
  "rate-limited": KV_DOWN,
  limit: [400, "kv_limit", "the request exceeds a storage limit"],
};

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
  return respond(err, extraHeaders, kvAnswer);
}

/**
 * `toErrorResponse` for a Worker that answers only `HttpError`s (the splitter:
 * its config read never throws): anything else is a logged 500, and the KV
 * mapping below stays out of its bundle.
 * @example return httpErrorResponse(new HttpError(400, "invalid_path", reason));
 */
export const httpErrorResponse = (err: unknown): Response => respond(err, {});

function respond(err: unknown, extraHeaders: Record<string, string>, kv?: typeof kvAnswer): Response {
  let status = 500;
  let code = "internal_error";
  let message = "internal error";
  const headers: Record<string, string> = { "Cache-Control": "no-store", ...extraHeaders };
  if (err instanceof HttpError) {
    status = err.status;
    code = err.code;
    message = err.message;
    Object.assign(headers, err.headers);
  } else if (kv && err instanceof EdgeKvError) [status, code, message] = kv(err, headers, message);
  if (!(err instanceof HttpError) || (status >= 500 && !err.logged)) logError(code, err);
  return Response.json({ error: code, message }, { status, headers });
}

/** What a KV failure answers: status, code and the client's message; a 503 also sets `Retry-After` in `headers`. */
function kvAnswer(err: EdgeKvError, headers: Record<string, string>, message: string): [number, string, string] {
  let answer: [number, string, string];
  if (err.code === "validation") {
    const v = err as KvValidationError;
    const write = v.phase === "write";
    // A write's issues describe the client's own input; a read's describe stored data.
    answer = write
      ? [
          400,
          "invalid_input",
          v.issues
            .slice(0, 3)
            .map((i) => (i.path ? `${i.path}: ${i.message}` : i.message))
            .join("; "),
        ]
      : [503, "invalid_stored_data", "stored data is invalid, retry shortly"];
  } else {
    // Keyed by code, not class, so a Worker's bundle holds only the error classes it can throw.
    answer = KV_ANSWERS[err.code] ?? [500, err.code, message];
  }
  if (answer[0] === 503) headers["Retry-After"] = String(KV_RETRY_AFTER_SECONDS);
  return answer;
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
