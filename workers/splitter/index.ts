import { FailureLimiter } from "../../shared/http/limiter.ts";
import { handle, type SplitterEnv } from "./handler.ts";
import { ConfigSource, configTtlMs } from "./source.ts";
import { STATUS_RATE_LIMIT_PERIOD_SECONDS } from "./status.ts";

// One per isolate, so the config's isolate cache survives across requests.
let source: ConfigSource | undefined;
// One per isolate too: it remembers locked-out clients until their window ends.
let limiter: FailureLimiter | undefined;

export default {
  fetch(request, env): Promise<Response> {
    source ??= new ConfigSource(env.ROLLOUT_KV, { ttlMs: configTtlMs(env.CONFIG_TTL_MS) });
    if (env.FAILED_STATUS_LIMITER) limiter ??= new FailureLimiter(env.FAILED_STATUS_LIMITER, { periodSeconds: STATUS_RATE_LIMIT_PERIOD_SECONDS, now: Date.now });
    return handle(request, { env, source, fetch: (r) => fetch(r), now: Date.now, limiter });
  },
} satisfies ExportedHandler<SplitterEnv>;
