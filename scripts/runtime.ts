// Runs Workers in workerd through Miniflare (not `wrangler dev`, which adds its
// own proxy and CPU per request), finds the workerd process each instance
// spawned, and reads its CPU time and memory from /proc.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { watchChildren } from "./supervise.ts";
import { ROOT } from "./wrangler-dev.ts";

const run = promisify(execFile);
export const COMPATIBILITY_DATE = "2026-11-01";
export type WorkerEnvName = "site" | "splitter" | "auth" | "control";

/**
 * Bundles one Worker exactly as `wrangler deploy` would (`--dry-run --outdir`) and returns its JS.
 * @example const js = await bundleWorker("site", true);
 */
export async function bundleWorker(env: WorkerEnvName, minify: boolean): Promise<string> {
  const out = await mkdtemp(join(tmpdir(), `edgekv-bench-${env}-`));
  try {
    const args = [join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js"), "deploy", "--dry-run", "--env", env, "--outdir", out];
    args.push(minify ? "--minify" : "--no-minify"); // wrangler.toml says minify = true; profiles want names
    await run(process.execPath, args, { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" } });
    const file = (await readdir(out)).find((f) => f.endsWith(".js"));
    if (!file) throw new Error(`wrangler deploy --dry-run --env ${env} wrote no .js file`);
    return await readFile(join(out, file), "utf8");
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/** The parent process id of `pid` (field 4 of /proc/<pid>/stat). */
export async function parentPid(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/** Process ids of every running workerd. */
export async function workerdPids(): Promise<Set<number>> {
  const pids = new Set<number>();
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const comm = (await readFile(`/proc/${name}/comm`, "utf8")).trim();
      if (comm === "workerd") pids.add(Number(name));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** User + system CPU time of a process, in ms (from /proc/<pid>/stat, 10 ms ticks). */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the ")" that closes comm: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/** Resident memory of a process in bytes (VmRSS from /proc/<pid>/status). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

export interface ModuleSource {
  path: string;
  contents: string;
}

export interface WorkerSpec {
  /** Used in messages only. */
  name: string;
  /** ES modules; the first is the entry. */
  modules: ModuleSource[];
  /** Take KV namespaces, vars and other bindings from this wrangler environment. */
  env?: WorkerEnvName;
  /** Local state written by `edgekv --persist-to DIR` / `wrangler dev --persist-to DIR`. */
  persistTo?: string;
  /** Extra or overriding plain-text vars (e.g. secrets). */
  vars?: Record<string, string>;
  /** Bindings from the env to leave out (e.g. a rate limiter). */
  drop?: string[];
  /** Node-side service bindings: name -> handler. */
  services?: Record<string, (request: Request) => Promise<Response> | Response>;
  port?: number;
  /** Open workerd's inspector on this port (0: any free port), for CPU profiles (bench/lib/profile.ts). */
  inspectorPort?: number;
  /** Receives each line the Worker logs (default: dropped, so a benchmark's terminal stays readable). */
  onLog?: (message: string) => void;
}

export interface RunningWorker {
  name: string;
  /** What it was started with (the bench starts a copy with other modules: bench/lib/code.ts). */
  spec: WorkerSpec;
  url: string;
  port: number;
  /** The workerd process serving it (null if it could not be identified). */
  pid: number | null;
  mf: Miniflare;
  stop(): Promise<void>;
}

let starting: Promise<unknown> = Promise.resolve();

/**
 * Starts a Worker in its own workerd (one Miniflare instance) on a loopback port.
 * Starts are serialised so the new workerd pid can be told apart.
 * @example const w = await startWorker({ name: "hello", modules: [{ path: "w.js", contents: HELLO }] });
 */
export function startWorker(spec: WorkerSpec): Promise<RunningWorker> {
  const next = starting.then(() => startNow(spec));
  starting = next.catch(() => undefined);
  return next;
}

async function startNow(spec: WorkerSpec): Promise<RunningWorker> {
  let envOptions: Record<string, unknown> = {};
  if (spec.env) {
    const { workerOptions } = unstable_getMiniflareWorkerOptions(join(ROOT, "wrangler.toml"), spec.env);
    const { modulesRules: _rules, ...rest } = workerOptions as Record<string, unknown>;
    envOptions = rest;
    for (const name of spec.drop ?? []) {
      for (const key of ["ratelimits", "bindings", "kvNamespaces", "serviceBindings"]) {
        const group = envOptions[key] as Record<string, unknown> | undefined;
        if (group && typeof group === "object" && name in group) {
          const { [name]: _dropped, ...others } = group;
          envOptions[key] = others;
        }
      }
    }
  }
  const before = await workerdPids();
  const bindings = { ...((envOptions.bindings as Record<string, unknown> | undefined) ?? {}), ...(spec.vars ?? {}) };
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      ...envOptions,
      name: spec.name,
      modules: spec.modules.map((m) => ({ type: "ESModule", path: m.path, contents: m.contents })),
      compatibilityDate: COMPATIBILITY_DATE,
      bindings,
      ...(spec.services ? { serviceBindings: spec.services } : {}),
      ...(spec.persistTo ? { resourcePersistencePath: join(spec.persistTo, "v3") } : {}),
      host: "127.0.0.1",
      port: spec.port ?? 0,
      ...(spec.inspectorPort === undefined ? {} : { inspectorPort: spec.inspectorPort }),
      verbose: false,
      handleStructuredLogs: (log: { message?: string }) => spec.onLog?.(String(log.message ?? "")),
    } as Parameters<typeof convertV4MiniflareOptions>[0]),
  );
  const url = await mf.ready;
  watchChildren(); // its workerd ends with this process, even a SIGKILLed one (scripts/supervise.ts)
  const after = await workerdPids();
  // Other workerd processes may start meanwhile (tests, other tools): keep our own children.
  const fresh: number[] = [];
  for (const p of after) {
    if (before.has(p)) continue;
    if ((await parentPid(p).catch(() => -1)) === process.pid) fresh.push(p);
  }
  const pid = fresh.length === 1 ? fresh[0]! : null;
  return {
    name: spec.name,
    spec,
    url: url.origin,
    port: Number(url.port),
    pid,
    mf,
    stop: () => mf.dispose(),
  };
}
