/**
 * The token admin API, for origin applications that issue tokens at login.
 * handler.ts lets a request in only with ADMIN_SECRET (limiter first); this
 * file is the endpoints, on the one writer of TOKENS_KV (shared/tokens/write.ts).
 *
 *   POST   /__edgekv/tokens               {user, scopes?, ttl?, label?} -> 201 {token, id, hash, ...}
 *   POST   /__edgekv/tokens/:hash/rotate  {grace?} -> 201 {token, hash, ..., old}   (grace: seconds or "24h"; default 0)
 *   DELETE /__edgekv/tokens/users/:user   -> {revoked: n}
 *   DELETE /__edgekv/tokens/:hash         -> {revoked: 0 | 1}   (hash = SHA-256 hex of the token)
 */
import type { IRequest } from "itty-router";
import { IttyRouter } from "itty-router/IttyRouter";
import { HttpError } from "../../shared/http/errors.ts";
import { parseGrace } from "../../shared/tokens/write.ts";
import type { Deps } from "./deps.ts";

/** The admin API's prefix. */
export const ADMIN_PREFIX = "/__edgekv/tokens";
/** Largest JSON body accepted by POST /__edgekv/tokens. */
export const MAX_ADMIN_BODY_BYTES = 8 * 1024;

const json = (body: unknown, status = 200) => Response.json(body, { status, headers: { "Cache-Control": "no-store" } });
const bad = (message: string) => new HttpError(400, "invalid_input", message);

async function issue(request: IRequest, deps: Deps): Promise<Response> {
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
  const issued = await deps.tokens.issue({
    user: body.user as string,
    scopes: body.scopes as string[] | undefined,
    ttlSeconds: body.ttl as number | undefined,
    label: body.label as string | undefined,
  });
  return json({ token: issued.token, hash: issued.hash, ...issued.record }, 201);
}

async function readJson(request: IRequest, usage: string): Promise<Record<string, unknown>> {
  const text = await request.text();
  if (text.length > MAX_ADMIN_BODY_BYTES) throw new HttpError(413, "too_large", `body over ${MAX_ADMIN_BODY_BYTES} bytes`);
  let body: unknown;
  try {
    body = text.trim() === "" ? {} : JSON.parse(text);
  } catch {
    throw bad(`body must be JSON: ${usage}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw bad(`body must be a JSON object: ${usage}`);
  return body as Record<string, unknown>;
}

const HASH = /^[0-9a-f]{64}$/;

async function rotate(request: IRequest, deps: Deps): Promise<Response> {
  const hash = request.params.hash ?? "";
  if (!HASH.test(hash)) throw bad("POST /__edgekv/tokens/<sha256 hex of the token>/rotate");
  const body = await readJson(request, '{"grace": 86400 | "24h"}');
  const grace = body.grace ?? 0;
  if (typeof grace !== "number" && typeof grace !== "string") throw bad('grace is seconds or a duration such as "24h"');
  const r = await deps.tokens.rotate(hash, parseGrace(grace));
  return json({ token: r.token, hash: r.hash, ...r.record, old: r.old }, 201);
}

async function revokeHash(request: IRequest, deps: Deps): Promise<Response> {
  const hash = request.params.hash ?? "";
  if (!HASH.test(hash)) throw bad("DELETE /__edgekv/tokens/<sha256 hex of the token>");
  return json({ revoked: (await deps.tokens.revokeHash(hash)) ? 1 : 0 });
}

/** The endpoints; itty-router matches trailing slashes too. Unmatched: undefined (handler.ts answers 404). */
export const adminRouter = IttyRouter<IRequest, [Deps]>({ base: ADMIN_PREFIX })
  .post("/", issue)
  .post("/:hash/rotate", rotate)
  .delete("/users/:user", async (request, deps) => json({ revoked: await deps.tokens.revokeUser(decodeURIComponent(request.params.user ?? "")) }))
  .delete("/:hash", revokeHash);
