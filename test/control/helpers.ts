import { env } from "cloudflare:workers";
import type { FailureLimiter } from "../../shared/http/limiter.ts";
import { TokenWriter } from "../../shared/tokens/write.ts";
import type { ControlEnv } from "../../workers/control/env.ts";
import { handle, type Deps } from "../../workers/control/handler.ts";
import { makeGate } from "../auth/helpers.ts";

export { bearer, uniqueUser } from "../auth/helpers.ts";

/**
 * The control Worker's admin API in front of TOKENS_KV, and a gate reading the
 * same namespace (no allow cache, so a revocation shows at once): `/__edgekv/*`
 * goes to the control Worker, every other path to the gate.
 */
export function makeControl(vars: Partial<ControlEnv> = {}, options: { limiter?: FailureLimiter; start?: number } = {}) {
  const g = makeGate({ ALLOW_CACHE_SECONDS: "0" }, { start: options.start });
  const deps: Deps = {
    env: { ROLLOUT_KV: env.ROLLOUT_KV, TOKENS_KV: env.TOKENS_KV, ...vars },
    tokens: new TokenWriter(env.TOKENS_KV, { now: () => g.clock.t }),
    now: () => g.clock.t,
    limiter: options.limiter,
  };
  const fetch = (path: string, init: RequestInit = {}) =>
    path.startsWith("/__edgekv/") ? handle(new Request(`https://control.test${path}`, init), deps) : g.fetch(path, init);
  return { ...g, control: deps, fetch };
}
