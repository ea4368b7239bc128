import { forClient } from "../../shared/http/encoding.ts";
import { perIsolate } from "../../shared/http/isolate.ts";
import { configTtlMs } from "./config.ts";
import type { SplitterEnv } from "./env.ts";
import { handle, type Deps } from "./handler.ts";
import { ConfigSource } from "./store.ts";

// Once per isolate (shared/http/isolate.ts): the config's isolate cache survives across requests.
const depsFor = perIsolate(
  (env: SplitterEnv): Deps => ({
    env,
    source: new ConfigSource(env.ROLLOUT_KV, { ttlMs: configTtlMs(env.CONFIG_TTL_MS) }),
    fetch: (r) => fetch(r),
    now: Date.now,
  }),
);

// Serves and reads only: the guard's cron, the webhooks and the status page are the control Worker's (workers/control).
export default {
  async fetch(request, env, ctx): Promise<Response> {
    return forClient(request, await handle(request, depsFor(env), ctx));
  },
} satisfies ExportedHandler<SplitterEnv>;
