// The soak's chaos entry, run in workerd in front of a real Worker's bundle
// (./worker.js, a second module): it passes every request on with the Worker's
// KV binding wrapped, and fails every KV call while the switch is on.
// scripts/soak/topology.ts bundles it with esbuild, ./worker.js left external.
import worker from "./worker.js";

/** Vars the soak adds for this entry only; the real Worker never sees them. */
interface ChaosVars {
  /** Name of the KV binding to wrap (SITE_KV, ROLLOUT_KV, TOKENS_KV). */
  SOAK_KV_BINDING: string;
  /** Shared secret for the switch, so only the soak can flip it. */
  SOAK_KEY: string;
}

type Env = ChaosVars & Record<string, unknown>;

const KV_METHODS = ["get", "getWithMetadata", "put", "delete", "list"] as const;

// Miniflare runs one isolate per Worker, so this switch is the Worker's.
let failing = false;
const kvs = new WeakMap<KVNamespace, KVNamespace>();
const envs = new WeakMap<Env, Record<string, unknown>>();

/** The binding with each method failing while `failing` is on. */
function chaosKv(kv: KVNamespace): KVNamespace {
  const held = kvs.get(kv);
  if (held) return held;
  const call = (name: (typeof KV_METHODS)[number]) => {
    // KVNamespace's methods are overloaded; one untyped call passes any overload through unchanged.
    const method = kv[name] as (...args: unknown[]) => Promise<unknown>;
    return (...args: unknown[]) => (failing ? Promise.reject(new Error(`KV ${name} failed (injected by the soak)`)) : method.apply(kv, args));
  };
  const wrapped = Object.fromEntries(KV_METHODS.map((name) => [name, call(name)])) as unknown as KVNamespace;
  kvs.set(kv, wrapped);
  return wrapped;
}

/** The Worker's own env: the chaos vars removed, its KV binding wrapped (one object per env, as the runtime gives). */
function wrapEnv(env: Env): Record<string, unknown> {
  let wrapped = envs.get(env);
  if (!wrapped) {
    const { SOAK_KV_BINDING: binding, SOAK_KEY: _key, ...rest } = env;
    wrapped = { ...rest, [binding]: chaosKv(env[binding] as KVNamespace) };
    envs.set(env, wrapped);
  }
  return wrapped;
}

export default {
  fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/__soak/kv" && request.headers.get("x-soak-key") === env.SOAK_KEY) {
      failing = url.searchParams.get("fail") === "1";
      return Response.json({ failing });
    }
    return worker.fetch(request, wrapEnv(env), ctx);
  },
} satisfies ExportedHandler<Env>;
