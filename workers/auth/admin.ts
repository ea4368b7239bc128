/**
 * Admin API for origin applications that issue tokens at login. Enabled only
 * when ADMIN_SECRET is set, and only when it is at least MIN_SECRET_BYTES long
 * (a shorter one answers 503 weak_secret). Order: the failed-attempt limiter
 * first (a locked-out client gets 429 even with the right secret), then the
 * secret, compared in constant time, length included (both sides hashed, then
 * timingSafeEqual). Only wrong secrets count as failures.
 *
 *   POST   /__edgekv/tokens               {user, scopes?, ttl?, label?} -> 201 {token, id, hash, ...}
 *   DELETE /__edgekv/tokens/users/:user   -> {revoked: n}
 *   DELETE /__edgekv/tokens/:hash         -> {revoked: 0 | 1}   (hash = SHA-256 hex of the token)
 */
import type { IRequest } from "itty-router";
import { IttyRouter } from "itty-router/IttyRouter";
import { timingSafeEqualStrings } from "../../shared/crypto.ts";
import { bearerSecret } from "../../shared/http/bearer.ts";
import { HttpError } from "../../shared/http/errors.ts";
import { clientKey, tooManyFailures as rateLimited } from "../../shared/http/limiter.ts";
import { secretState, weakSecretError } from "../../shared/http/secrets.ts";
import type { KvOps } from "../../shared/kv/index.ts";
import type { GateDeps } from "./gate.ts";

/** Largest JSON body accepted by POST /__edgekv/tokens. */
export const MAX_ADMIN_BODY_BYTES = 8 * 1024;

const json = (body: unknown, status = 200) => Response.json(body, { status, headers: { "Cache-Control": "no-store" } });
const bad = (message: string) => new HttpError(400, "invalid_input", message);

type AdminArgs = [GateDeps, KvOps];

async function issue(request: IRequest, deps: GateDeps, ops: KvOps): Promise<Response> {
  const text = await request.text();
  if (text.length > MAX_ADMIN_BODY_BYTES) throw new HttpError(413, "too_large", `body over ${MAX_ADMIN_BODY_BYTES} bytes`);
  let body: { user?: unknown; scopes?: unknown; ttl?: unknown; label?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw bad("body must be JSON: {user, scopes?, ttl?, label?}");
  }
  if (typeof body !== "object" || body === null) throw bad("body must be a JSON object");
  // Types are checked by issue(): ttl there, the rest by the record's schema.
  const issued = await deps.tokens.issue(
    {
      user: body.user as string,
      scopes: body.scopes as string[] | undefined,
      ttlSeconds: body.ttl as number | undefined,
      label: body.label as string | undefined,
    },
    ops,
  );
  return json({ token: issued.token, hash: issued.hash, ...issued.record }, 201);
}

async function revokeHash(request: IRequest, deps: GateDeps, ops: KvOps): Promise<Response> {
  const hash = request.params.hash ?? "";
  if (!/^[0-9a-f]{64}$/.test(hash)) throw bad("DELETE /__edgekv/tokens/<sha256 hex of the token>");
  return json({ revoked: (await deps.tokens.revokeHash(hash, ops)) ? 1 : 0 });
}

// The Worker's own endpoints; itty-router matches trailing slashes too.
const router = IttyRouter<IRequest, AdminArgs>({ base: "/__edgekv/tokens" })
  .post("/", issue)
  .delete("/users/:user", async (request, deps, ops) => json({ revoked: await deps.tokens.revokeUser(decodeURIComponent(request.params.user ?? ""), ops) }))
  .delete("/:hash", revokeHash);

/**
 * Answers one admin request (the path is already known to start with /__edgekv/).
 * @example await handleAdmin(request, new URL(request.url), deps, new KvOps());
 */
export async function handleAdmin(request: Request, _url: URL, deps: GateDeps, ops: KvOps): Promise<Response> {
  const state = secretState("ADMIN_SECRET", "auth", deps.config.adminSecret);
  if (state.kind === "off") throw new HttpError(404, "not_found", "no such endpoint");
  if (state.kind === "weak") throw weakSecretError("ADMIN_SECRET", "auth");
  const provided = bearerSecret(request.headers);
  const key = await clientKey(request, provided);
  // Before the secret is looked at: the right secret from a locked-out client is still a 429.
  const blocked = deps.limiter?.retryAfter(key) ?? 0;
  if (blocked > 0) throw rateLimited(blocked);
  if (!(await timingSafeEqualStrings(provided, state.secret))) {
    const wait = (await deps.limiter?.fail(key)) ?? 0;
    if (wait > 0) throw rateLimited(wait);
    throw new HttpError(401, "unauthorized", "admin secret required (Authorization: Bearer <ADMIN_SECRET>)");
  }
  const res = (await router.fetch(request as IRequest, deps, ops)) as Response | undefined;
  if (!res) throw new HttpError(404, "not_found", "no such admin endpoint");
  return res;
}
