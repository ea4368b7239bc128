/**
 * The control Worker's request pipeline: which endpoint, which secret, the
 * failed-attempt limiter before the secret, then the endpoint. Nothing is
 * proxied: a path that is not an endpoint is 404.
 *
 *   /__edgekv/status, /__edgekv/status.json   STATUS_SECRET   status.ts
 *   /__edgekv/tokens...                       ADMIN_SECRET    admin.ts
 *   /__edgekv/leaks                           ECDSA signature leak.ts (GitHub secret scanning)
 */
import { timingSafeEqualStrings } from "../../shared/crypto.ts";
import { bearerSecret } from "../../shared/http/bearer.ts";
import { HttpError, toErrorResponse } from "../../shared/http/errors.ts";
import { clientKey, tooManyFailures as rateLimited } from "../../shared/http/limiter.ts";
import { secretState, weakSecretError } from "../../shared/http/secrets.ts";
import { ADMIN_PREFIX, adminRouter } from "./admin.ts";
import type { Deps } from "./deps.ts";
import { LEAK_PATH, leakReport } from "./leak.ts";
import { STATUS_PREFIX, statusRouter } from "./status.ts";

export type { Deps };

/**
 * Query parameter names that look like a credential. Secrets are read from
 * `Authorization` only (URLs end up in logs, histories and Referer headers);
 * such a parameter is refused and counted as a failed attempt, even when right.
 */
export const SECRET_QUERY_PARAM = /token|secret|auth|key|bearer|pass/i;

/** The wrangler environment named in weak-secret messages (`wrangler secret put NAME --env control`). */
const WRANGLER_ENV = "control";

const unauthorized = (message: string) => new HttpError(401, "unauthorized", message, { "WWW-Authenticate": "Bearer" });

/**
 * Lets the request through only with `Authorization: Bearer <secret>`: off
 * (404) while the secret is unset, 503 weak_secret while it is shorter than
 * MIN_SECRET_BYTES. Order: the failed-attempt limiter first (a locked-out
 * client gets 429 even with the right secret), then the secret, compared in
 * constant time; only failures count.
 */
async function requireSecret(request: Request, url: URL, deps: Deps, name: "STATUS_SECRET" | "ADMIN_SECRET"): Promise<void> {
  const state = secretState(name, WRANGLER_ENV, deps.env[name]);
  if (state.kind === "off") throw new HttpError(404, "not_found", `endpoint off (no ${name})`);
  if (state.kind === "weak") throw weakSecretError(name, WRANGLER_ENV);
  const inQuery = [...url.searchParams].find(([param]) => SECRET_QUERY_PARAM.test(param));
  const given = bearerSecret(request.headers);
  const key = await clientKey(request, given || inQuery?.[1]);
  const blocked = deps.limiter?.retryAfter(key) ?? 0;
  if (blocked > 0) throw rateLimited(blocked);
  let refusal: HttpError | undefined;
  // Never echo the parameter: its name may be the secret itself (`?<secret>`).
  if (inQuery) refusal = unauthorized(`a secret in the URL query is refused: send Authorization: Bearer <${name}>, and rotate the secret if it was real`);
  else if (!(await timingSafeEqualStrings(given, state.secret))) refusal = unauthorized(`Authorization: Bearer <${name}> required`);
  if (refusal) {
    const wait = (await deps.limiter?.fail(key)) ?? 0;
    throw wait > 0 ? rateLimited(wait) : refusal;
  }
}

/** Whether `path` is `prefix` itself or below it (`/__edgekv/status.json` counts as the status prefix). */
const under = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`) || path.startsWith(`${prefix}.`);

/**
 * Answers one request. Never throws.
 * @example return handle(request, { env, tokens: new TokenWriter(env.TOKENS_KV), now: Date.now });
 */
export async function handle(request: Request, deps: Deps): Promise<Response> {
  try {
    const url = new URL(request.url);
    let res: Response | undefined;
    if (url.pathname === LEAK_PATH) {
      // Authenticated by the report's signature, not by a shared secret.
      res = await leakReport(request, { ...deps, fetch: deps.fetch ?? ((r) => fetch(r)) });
    } else if (under(url.pathname, STATUS_PREFIX)) {
      await requireSecret(request, url, deps, "STATUS_SECRET");
      res = (await statusRouter.fetch(request, deps)) as Response | undefined;
    } else if (under(url.pathname, ADMIN_PREFIX)) {
      await requireSecret(request, url, deps, "ADMIN_SECRET");
      res = (await adminRouter.fetch(request, deps)) as Response | undefined;
    }
    if (!res) throw new HttpError(404, "not_found", `no such endpoint: try ${STATUS_PREFIX}(.json) or ${ADMIN_PREFIX}`);
    return res;
  } catch (err) {
    return toErrorResponse(err);
  }
}
