// The `npm start` topology (site Worker; auth gate -> splitter -> blue/green
// origins) run in Miniflare so KV can be made to fail in the running Workers:
// each Worker's bundle is loaded behind a small chaos entry module that wraps
// its KV binding and fails every call while the switch is on.
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { bundleWorker, startWorker, type RunningWorker, type WorkerEnvName } from "../bench/runtime.ts";

/** The chaos entry: passes requests to the real Worker with its KV binding wrapped. */
export function chaosEntry(binding: string, key: string): string {
  return `import worker from "./worker.js";
// Miniflare runs one isolate per Worker, so this switch is the Worker's.
let failing = false;
const kvs = new WeakMap();
const envs = new WeakMap();
function chaosKv(kv) {
  let w = kvs.get(kv);
  if (w) return w;
  const guard = (name) => (...args) =>
    failing ? Promise.reject(new Error("KV " + name + " failed (injected by the soak)")) : kv[name](...args);
  w = { get: guard("get"), getWithMetadata: guard("getWithMetadata"), put: guard("put"), delete: guard("delete"), list: guard("list") };
  kvs.set(kv, w);
  return w;
}
function wrapEnv(env) {
  let w = envs.get(env);
  if (!w) {
    w = { ...env, ${JSON.stringify(binding)}: chaosKv(env[${JSON.stringify(binding)}]) };
    envs.set(env, w);
  }
  return w;
}
export default {
  fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/__soak/kv" && request.headers.get("x-soak-key") === ${JSON.stringify(key)}) {
      failing = url.searchParams.get("fail") === "1";
      return Response.json({ failing });
    }
    return worker.fetch(request, wrapEnv(env), ctx);
  },
};`;
}

export interface SoakOrigin {
  color: string;
  port: number;
  url: string;
  /** What reached this origin: the soak kind and the identity the gate added. */
  hits: { kind: string | undefined; user: string | undefined; at: number }[];
  delayMs: number;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

/**
 * An origin like scripts/demo-origin.ts (answers with its colour) that records
 * what reaches it and can be stopped, restarted on the same port, or slowed.
 */
export async function startSoakOrigin(color: string): Promise<SoakOrigin> {
  let server: Server | undefined;
  const origin: SoakOrigin = {
    color,
    port: 0,
    url: "",
    hits: [],
    delayMs: 0,
    async down() {
      const s = server;
      server = undefined;
      if (!s) return;
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    },
    async up() {
      if (server) return;
      const s = createServer((req, res) => {
        const header = (n: string) => {
          const v = req.headers[n];
          return typeof v === "string" ? v : undefined;
        };
        origin.hits.push({ kind: header("x-soak-kind"), user: header("x-edgekv-user"), at: Date.now() });
        req.resume();
        const answer = () => {
          const body = JSON.stringify({ color, path: req.url, user: header("x-edgekv-user") ?? null });
          res.writeHead(200, { "content-type": "application/json", "x-demo-origin": color });
          res.end(body);
        };
        if (origin.delayMs > 0) setTimeout(answer, origin.delayMs);
        else answer();
      });
      s.keepAliveTimeout = 30_000;
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject);
        s.listen(origin.port, "127.0.0.1", () => resolve());
      });
      const addr = s.address();
      origin.port = typeof addr === "object" && addr ? addr.port : origin.port;
      origin.url = `http://127.0.0.1:${origin.port}`;
      server = s;
    },
    close: () => origin.down(),
  };
  await origin.up();
  return origin;
}

export interface SoakWorkers {
  site: RunningWorker;
  splitter: RunningWorker;
  auth: RunningWorker;
  /** Turns injected KV failures on or off in all three Workers. */
  setKvFailing(on: boolean): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Bundles the three Workers (wrangler deploy --dry-run) and runs each in its own
 * workerd behind the chaos entry, on the state in `persistTo`; the gate forwards to the splitter.
 */
export async function startSoakWorkers(persistTo: string, onLog: (worker: string, line: string) => void): Promise<SoakWorkers> {
  const key = randomBytes(16).toString("hex");
  const envs: [WorkerEnvName, string][] = [
    ["site", "SITE_KV"],
    ["splitter", "ROLLOUT_KV"],
    ["auth", "TOKENS_KV"],
  ];
  const bundles = await Promise.all(envs.map(([env]) => bundleWorker(env, true)));
  const started: RunningWorker[] = [];
  try {
    const start = async (i: number, vars?: Record<string, string>) => {
      const [env, binding] = envs[i]!;
      const w = await startWorker({
        name: env,
        env,
        persistTo,
        modules: [
          { path: "entry.js", contents: chaosEntry(binding, key) },
          { path: "worker.js", contents: bundles[i]! },
        ],
        ...(vars ? { vars } : {}),
        onLog: (line) => onLog(env, line),
      });
      started.push(w);
      return w;
    };
    const site = await start(0);
    const splitter = await start(1);
    const auth = await start(2, { ORIGIN_URL: splitter.url });
    return {
      site,
      splitter,
      auth,
      async setKvFailing(on) {
        await Promise.all(
          [site, splitter, auth].map(async (w) => {
            const res = await fetch(`${w.url}/__soak/kv?fail=${on ? 1 : 0}`, { headers: { "x-soak-key": key } });
            const body = (await res.json()) as { failing?: boolean };
            if (body.failing !== on) throw new Error(`could not switch KV failures ${on ? "on" : "off"} in ${w.name}`);
          }),
        );
      },
      stop: async () => {
        await Promise.allSettled(started.map((w) => w.stop()));
      },
    };
  } catch (err) {
    await Promise.allSettled(started.map((w) => w.stop()));
    throw err;
  }
}
