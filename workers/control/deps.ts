/**
 * What the control Worker's endpoints are given (handler.ts builds it, admin.ts
 * and status.ts read it). Its own file so the endpoints never import the
 * pipeline that imports them.
 */
import type { FailureLimiter } from "../../shared/http/limiter.ts";
import type { TokenWriter } from "../../shared/tokens/write.ts";
import type { OriginFetch } from "../splitter/origin.ts";
import type { ControlEnv } from "./env.ts";

export interface Deps {
  env: ControlEnv;
  /** The one writer of TOKENS_KV (shared/tokens/write.ts). */
  tokens: TokenWriter;
  now: () => number;
  /** Failed secret attempts (FAILED_CONTROL_LIMITER); checked before the secret. */
  limiter?: FailureLimiter;
  /** Outbound calls: the leak keys and webhooks (default: the global fetch). */
  fetch?: OriginFetch;
  /** ctx.waitUntil of the request, for webhooks sent after the answer. */
  waitUntil?: (p: Promise<unknown>) => void;
}
