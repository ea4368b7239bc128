// The `npm start` topology (site Worker; auth gate -> splitter -> blue/green
// origins) run in Miniflare so KV can be made to fail in the running Workers:
// each Worker's bundle is loaded behind a small chaos entry module
// (chaos/entry.ts) that wraps its KV binding and fails every call while the
// switch is on. The origins are scripts/origin.ts.
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { bundleWorker, startWorker, type RunningWorker, type WorkerEnvName } from "../runtime.ts";

const CHAOS_ENTRY = fileURLToPath(new URL("./chaos/entry.ts", import.meta.url));

/**
 * The chaos entry (chaos/entry.ts) as one ES module, with its import of the
 * real Worker ("./worker.js") left for Miniflare to resolve to the second module.
 */
export async function bundleChaosEntry(): Promise<string> {
  const out = await build({
    entryPoints: [CHAOS_ENTRY],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    external: ["./worker.js"],
    write: false,
    logLevel: "silent",
  });
  return out.outputFiles[0]!.text;
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
  const [entry, ...bundles] = await Promise.all([bundleChaosEntry(), ...envs.map(([env]) => bundleWorker(env, true))]);
  const started: RunningWorker[] = [];
  try {
    const start = async (i: number, vars?: Record<string, string>) => {
      const [env, binding] = envs[i]!;
      const w = await startWorker({
        name: env,
        env,
        persistTo,
        modules: [
          { path: "entry.js", contents: entry! },
          { path: "worker.js", contents: bundles[i]! },
        ],
        vars: { ...vars, SOAK_KV_BINDING: binding, SOAK_KEY: key },
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
