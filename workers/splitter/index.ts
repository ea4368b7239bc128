import { handle, type SplitterEnv } from "./handler.ts";
import { ConfigSource, configTtlMs } from "./source.ts";

// One per isolate, so the config's isolate cache survives across requests.
let source: ConfigSource | undefined;

export default {
  fetch(request, env): Promise<Response> {
    source ??= new ConfigSource(env.ROLLOUT_KV, { ttlMs: configTtlMs(env.CONFIG_TTL_MS) });
    return handle(request, { env, source, fetch: (r) => fetch(r), now: Date.now });
  },
} satisfies ExportedHandler<SplitterEnv>;
