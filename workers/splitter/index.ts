import { forClient } from "../../shared/http/encoding.ts";
import { perIsolate } from "../../shared/http/isolate.ts";
import { FailureLimiter } from "../../shared/http/limiter.ts";
import { configTtlMs, type SplitterEnv } from "./env.ts";
import { handle, type Deps } from "./handler.ts";
import { tick } from "./scheduled.ts";
import { ConfigSource } from "./store.ts";
import { STATUS_RATE_LIMIT_PERIOD_SECONDS } from "./status.ts";

// Once per isolate (shared/http/isolate.ts): the config's isolate cache and the
// limiter's locked-out clients survive across requests.
const depsFor = perIsolate(
  (env: SplitterEnv): Deps => ({
    env,
    source: new ConfigSource(env.ROLLOUT_KV, { ttlMs: configTtlMs(env.CONFIG_TTL_MS) }),
    fetch: (r) => fetch(r),
    now: Date.now,
    limiter: env.FAILED_STATUS_LIMITER
      ? new FailureLimiter(env.FAILED_STATUS_LIMITER, { periodSeconds: STATUS_RATE_LIMIT_PERIOD_SECONDS, now: Date.now })
      : undefined,
  }),
);

export default {
  async fetch(request, env, ctx): Promise<Response> {
    return forClient(request, await handle(request, depsFor(env), ctx));
  },
  // The cron trigger ([env.splitter.triggers]): the guard, and webhooks on every rollout change.
  async scheduled(controller, env): Promise<void> {
    await tick({ env, fetch: (r) => fetch(r), now: controller.scheduledTime });
  },
} satisfies ExportedHandler<SplitterEnv>;
