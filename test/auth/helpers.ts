import { env } from "cloudflare:workers";
import type { FailureLimiter } from "../../shared/http/limiter.ts";
import type { KvBinding } from "../../shared/kv/index.ts";
import { gateConfig } from "../../workers/auth/config.ts";
import type { AuthEnv } from "../../workers/auth/env.ts";
import { gateTokenStore, handle, type Deps } from "../../workers/auth/handler.ts";
import { TokenStore, type IssueInput } from "../../cli/token/store.ts";

/** What the origin seam recorded: the gate's own dependency, not a runtime mock. */
export interface Received {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** The real TOKENS_KV, wrapped to count calls (and optionally fail them). */
export function countingKv(options: { fail?: boolean } = {}): { kv: KvBinding; calls: string[] } {
  const calls: string[] = [];
  const real = env.TOKENS_KV as unknown as KvBinding;
  const kv = new Proxy(real, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        if (options.fail) return Promise.reject(new Error("KV is down (injected)"));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { kv, calls };
}

let seq = 0;
/** A user id no other test uses (KV state is shared within a file). */
export const uniqueUser = (base = "u") => `${base}${Date.now().toString(36)}${(seq++).toString(36)}`;

export function makeGate(vars: Partial<AuthEnv> = {}, options: { kv?: KvBinding; limiter?: FailureLimiter; start?: number } = {}) {
  const config = gateConfig({ TOKENS_KV: env.TOKENS_KV, ORIGIN_URL: "http://origin.test", PUBLIC_PATHS: "/health,/public/*", ...vars });
  const clock = { t: options.start ?? Date.now() };
  const now = () => clock.t;
  const received: Received[] = [];
  const logs: string[] = [];
  const kv = options.kv ?? (env.TOKENS_KV as unknown as KvBinding);
  const deps: Deps = {
    config,
    tokens: gateTokenStore(kv, config, now),
    origin: async (req) => {
      received.push({ method: req.method, url: req.url, headers: Object.fromEntries(req.headers), body: await req.text() });
      return new Response(req.method === "HEAD" ? null : "from origin", { status: 200, headers: { "x-from-origin": "1" } });
    },
    limiter: options.limiter,
    now,
    log: (line) => logs.push(line),
  };
  /** Issues through a separate, uncached store, as the CLI in another process would. */
  const issuer = new TokenStore(env.TOKENS_KV as unknown as KvBinding, { now });
  return {
    deps,
    clock,
    received,
    logs,
    issuer,
    issue: (input: Partial<IssueInput> = {}) => issuer.issue({ user: uniqueUser(), ...input }),
    fetch: (path: string, init: RequestInit = {}) => handle(new Request(`https://gate.test${path}`, init), deps),
  };
}

export const bearer = (token: string, extra: Record<string, string> = {}) => ({ headers: { Authorization: `Bearer ${token}`, ...extra } });
