/**
 * edgekv-auth: the edge auth gate. A thin shell: builds the per-isolate
 * dependencies once (config, token store with its isolate cache, rate limiter)
 * and hands each request to `handle` (handler.ts).
 */
import { forClient } from "../../shared/http/encoding.ts";
import { toErrorResponse } from "../../shared/http/errors.ts";
import { perIsolate } from "../../shared/http/isolate.ts";
import { FailureLimiter } from "../../shared/http/limiter.ts";
import { gateConfig, RATE_LIMIT_PERIOD_SECONDS } from "./config.ts";
import type { AuthEnv } from "./env.ts";
import { gateTokenStore, handle, type Deps } from "./handler.ts";

/**
 * The isolate's dependencies for `env`, built on first use (shared/http/isolate.ts), so the
 * token cache and the limiter's lockouts survive across requests. Throws on a bad config.
 */
export const depsFor = perIsolate((env: AuthEnv): Deps => {
  const config = gateConfig(env);
  // Once per isolate: without a key, origins cannot tell the gate's requests from anyone else's.
  if (!config.assertion) {
    console.warn(
      JSON.stringify({
        msg: "edgekv-auth",
        level: "warn",
        warning:
          "no IDENTITY_PRIVATE_JWK or IDENTITY_SECRET: requests are forwarded without an identity assertion; the origin must be reachable only through the gate (service binding)",
      }),
    );
  }
  const now = () => Date.now();
  const originBinding = env.ORIGIN;
  return {
    config,
    tokens: gateTokenStore(env.TOKENS_KV, config, now),
    origin: originBinding ? (r) => originBinding.fetch(r) : (r) => fetch(r),
    limiter: env.FAILED_AUTH_LIMITER ? new FailureLimiter(env.FAILED_AUTH_LIMITER, { periodSeconds: RATE_LIMIT_PERIOD_SECONDS, now }) : undefined,
    now,
    log: (line) => console.log(line),
  };
});

export default {
  async fetch(request, env): Promise<Response> {
    let deps: Deps;
    try {
      deps = depsFor(env);
    } catch (err) {
      return toErrorResponse(err);
    }
    return forClient(request, await handle(request, deps));
  },
} satisfies ExportedHandler<AuthEnv>;
