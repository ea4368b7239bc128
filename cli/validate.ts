/**
 * Checks of command-line input before any KV is opened, with the very schemas and
 * limits the Workers and the library use (workers/*\/model.ts, shared/kv): no limit
 * is repeated here. Failures are `InputError`s (exit 2) worded for the command line.
 */
import { checkExpiration, checkExpirationTtl, checkKey, checkMetadataSize, EdgeKvError, KV_LIMITS, KvLimitError } from "../shared/kv/index.ts";
import { toIssues } from "../shared/kv/schema.ts";
import { TokenRecordSchema } from "../workers/auth/model.ts";
import { TOKEN_ID_CHARS } from "../workers/auth/token.ts";
import { parseConfig } from "../workers/splitter/model.ts";
import { InputError } from "./errors.ts";

/** Runs a library check; its KvLimitError becomes an input error with the same one-line message. */
function asInput(check: () => void): void {
  try {
    check();
  } catch (err) {
    if (err instanceof EdgeKvError) throw new InputError(err.message);
    throw err;
  }
}

/**
 * The KV limits a `kv put` would break, checked without KV.
 * @example checkKvPut({ key: "k", expirationTtl: 30 }, Date.now()) // throws InputError "KV limit expiration-ttl: ..."
 */
export function checkKvPut(input: { key: string; valueBytes?: number; expirationTtl?: number; expiration?: number; metadata?: unknown }, nowMs: number): void {
  asInput(() => {
    checkKey(input.key);
    if (input.valueBytes !== undefined && input.valueBytes > KV_LIMITS.valueMaxBytes) {
      throw new KvLimitError("value-bytes", input.valueBytes, `value is ${input.valueBytes} bytes, more than ${KV_LIMITS.valueMaxBytes}`);
    }
    if (input.expirationTtl !== undefined) checkExpirationTtl(input.expirationTtl);
    if (input.expiration !== undefined) checkExpiration(input.expiration, nowMs);
    if (input.metadata !== undefined) checkMetadataSize(input.metadata);
  });
}

/** A KV key given on the command line (get, delete). */
export function checkKvKey(key: string): void {
  asInput(() => checkKey(key));
}

/** A valid config for the fields a command does not set, so only the command's own fields can fail. */
const ROLLOUT_TEMPLATE = { version: 1, live: "blue", origins: { blue: "https://blue.invalid", green: "https://green.invalid" }, percent: 0 };

/**
 * Validates rollout fields with the splitter's schema: `fields` over a valid template.
 * `label` renames a field path for the message (e.g. "percent" -> "PERCENT").
 * @example checkRolloutFields({ percent: 150 }, { percent: "PERCENT" }) // throws "PERCENT: must be at most 100"
 */
export function checkRolloutFields(fields: Record<string, unknown>, label: Record<string, string> = {}): void {
  const r = parseConfig({ ...ROLLOUT_TEMPLATE, ...fields });
  if (r.ok) return;
  const named = r.issues.map((i) => {
    const field = Object.keys(label).find((k) => i === k || i.startsWith(`${k}:`) || i.startsWith(`${k}.`));
    return field === undefined ? i : `${label[field]}${i.slice(field.length)}`;
  });
  throw new InputError(`invalid rollout config: ${named.join("; ")}`);
}

/** Flags that set a token record's fields, for messages. */
const TOKEN_FLAGS: Record<string, string> = { user: "--user", scopes: "--scope", label: "--name" };

/**
 * Validates token fields with the gate's own record schema (user id, scopes, label).
 * @example checkTokenFields({ user: "bad user!" }) // throws InputError "--user: user must be 1..128 of ..."
 */
export function checkTokenFields(fields: { user?: string; scopes?: string[]; label?: string }): void {
  const record = { id: "0".repeat(TOKEN_ID_CHARS), user: "x", scopes: [], issuedAt: 0, expiresAt: 0, label: "", ...fields };
  const r = TokenRecordSchema["~standard"].validate(record);
  if (r instanceof Promise) throw new TypeError("lite schemas are synchronous");
  if (!r.issues) return;
  const lines = toIssues(r.issues).map((i) => `${TOKEN_FLAGS[i.path.split(".")[0]!] ?? i.path}: ${i.message}`);
  throw new InputError([...new Set(lines)].join("; "));
}
