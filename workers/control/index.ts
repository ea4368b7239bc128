/**
 * edgekv-control: the one Worker that acts. A thin shell: `fetch` serves the
 * status page and the token admin API (handler.ts), `scheduled` runs the
 * guard and the webhooks (scheduled.ts) on the cron of [env.control.triggers].
 */
import { perIsolate } from "../../shared/http/isolate.ts";
import { FailureLimiter } from "../../shared/http/limiter.ts";
import { RATE_LIMIT_PERIOD_SECONDS, type ControlEnv } from "./env.ts";
import { handle, type Deps } from "./handler.ts";
import { tick } from "./scheduled.ts";
import { expiryNotices } from "./expiry.ts";
import { TokenWriter } from "../../shared/tokens/write.ts";

// Once per isolate (shared/http/isolate.ts): the limiter's locked-out clients survive across requests.
const depsFor = perIsolate(
  (env: ControlEnv): Deps => ({
    env,
    tokens: new TokenWriter(env.TOKENS_KV),
    now: Date.now,
    limiter: env.FAILED_CONTROL_LIMITER
      ? new FailureLimiter(env.FAILED_CONTROL_LIMITER, { periodSeconds: RATE_LIMIT_PERIOD_SECONDS, now: Date.now })
      : undefined,
  }),
);

export default {
  fetch(request, env, ctx): Promise<Response> {
    return handle(request, { ...depsFor(env), waitUntil: (p) => ctx.waitUntil(p) });
  },
  async scheduled(controller, env): Promise<void> {
    const deps = { env, fetch: (r: Request) => fetch(r), now: controller.scheduledTime };
    // The expiry pass reads one small key a tick at most, and lists once a day (expiry.ts).
    await Promise.all([tick(deps), expiryNotices({ ...deps, tokens: depsFor(env).tokens })]);
  },
} satisfies ExportedHandler<ControlEnv>;
