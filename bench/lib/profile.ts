// CPU profiles of a Worker in workerd, through the inspector Miniflare opens
// (`inspectorPort`) and the DevTools protocol (Profiler.start / Profiler.stop).
// The .cpuprofile it writes opens in Chrome DevTools (Performance panel) and
// in speedscope. See docs/benchmarks.md "Profiling".
import type { Miniflare } from "miniflare";

/** The DevTools protocol's CPU profile (what Profiler.stop returns). */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number; scriptId: string };
    hitCount?: number;
    children?: number[];
  }[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Sampling interval: fine enough for a request of ~100 µs, coarse enough to keep the profiler's own cost low. */
export const SAMPLING_INTERVAL_US = 50;
/** How long a protocol call may take before the profile is abandoned. */
const CALL_TIMEOUT_MS = 30_000;

/** One inspector session over the DevTools protocol (JSON-RPC on a WebSocket). */
class Session {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 1;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.addEventListener("message", (event) => {
      const msg = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
      const waiter = msg.id === undefined ? undefined : this.#pending.get(msg.id);
      if (!waiter) return; // events (console, scripts parsed) are not needed here
      this.#pending.delete(msg.id!);
      if (msg.error) waiter.reject(new Error(`inspector: ${msg.error.message}`));
      else waiter.resolve(msg.result);
    });
    ws.addEventListener("close", () => {
      for (const w of this.#pending.values()) w.reject(new Error("inspector: connection closed"));
      this.#pending.clear();
    });
  }

  static async open(url: string): Promise<Session> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error(`inspector: cannot connect to ${url}`)), { once: true });
    });
    return new Session(ws);
  }

  call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.#next++;
    this.#ws.send(JSON.stringify({ id, method, params }));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`inspector: ${method} timed out`)), CALL_TIMEOUT_MS);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  close(): void {
    this.#ws.close();
  }
}

/**
 * Records a CPU profile of Worker `name` (started with Miniflare's `inspectorPort`) while `during` runs.
 * @example const profile = await recordProfile(w.mf, "site", () => load(...));
 */
export async function recordProfile<T>(mf: Miniflare, name: string, during: () => Promise<T>): Promise<{ profile: CpuProfile; result: T }> {
  const base = await mf.getInspectorURL();
  const session = await Session.open(new URL(`/core:user:${name}`, base).href);
  try {
    await session.call("Profiler.enable");
    await session.call("Profiler.setSamplingInterval", { interval: SAMPLING_INTERVAL_US });
    await session.call("Profiler.start");
    const result = await during();
    const { profile } = await session.call<{ profile: CpuProfile }>("Profiler.stop");
    return { profile, result };
  } finally {
    session.close();
  }
}

/** Where a sample's time went: the Worker's own script, other JS, or the runtime's own buckets. */
export type Bucket = "worker" | "runtime";

export interface FunctionCost {
  name: string;
  /** `file:line`, or the runtime's bucket name, e.g. "(garbage collector)". */
  where: string;
  bucket: Bucket;
  selfMs: number;
}

export interface ProfileSummary {
  /** Sampled wall time the isolate spent in each function, by self time, largest first. */
  functions: FunctionCost[];
  /** Self time in the Worker's own script (bundled code: edgekv and its libraries). */
  workerMs: number;
  /** Self time elsewhere while sampled: runtime built-ins (fetch, Headers, URL, crypto...), GC, "(program)". */
  runtimeMs: number;
  /** "(idle)": the isolate waiting for work. */
  idleMs: number;
  totalMs: number;
}

/** Runtime buckets V8 reports as pseudo-functions. */
const IDLE = "(idle)";

/**
 * Self time per function, from the samples (each sample's time delta goes to the node it hit).
 * `workerScript` is how the Worker's module appears in `callFrame.url` (e.g. "index.js").
 * @example summarize(profile, "index.js").functions.slice(0, 15)
 */
export function summarize(profile: CpuProfile, workerScript: string): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // timeDeltas[i] is the time before sample i; the time after it is timeDeltas[i + 1].
  for (let i = 0; i < samples.length; i++) {
    const dt = deltas[i + 1] ?? 0;
    self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + dt);
  }
  const costs = new Map<string, FunctionCost>();
  let workerMs = 0;
  let runtimeMs = 0;
  let idleMs = 0;
  for (const [id, us] of self) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    const ms = us / 1000;
    const name = frame.functionName || "(anonymous)";
    if (name === IDLE) {
      idleMs += ms;
      continue;
    }
    const bucket: Bucket = frame.url?.endsWith(workerScript) ? "worker" : "runtime";
    if (bucket === "worker") workerMs += ms;
    else runtimeMs += ms;
    const where = frame.url ? `${frame.url.slice(frame.url.lastIndexOf("/") + 1)}:${frame.lineNumber + 1}:${frame.columnNumber + 1}` : name;
    const key = `${name}@${where}`;
    const c = costs.get(key) ?? { name, where, bucket, selfMs: 0 };
    c.selfMs += ms;
    costs.set(key, c);
  }
  const functions = [...costs.values()].sort((a, b) => b.selfMs - a.selfMs);
  return { functions, workerMs, runtimeMs, idleMs, totalMs: workerMs + runtimeMs + idleMs };
}

/** One side of a profiled case: a running Worker, the request to load it with, and its script's name in the profile. */
export interface ProfiledSide {
  worker: { name: string; url: string; pid: number | null; mf: Miniflare };
  req: { path: string; method?: string; headers?: Record<string, string> };
  /** The module file name the Worker was started with (frames whose url ends with it are the Worker's own). */
  script: string;
}

export interface SideProfile {
  label: string;
  requests: number;
  /** workerd's CPU (user + system, /proc) per request while profiled: includes the profiler's own cost. */
  cpuUsPerReq: number;
  summary: ProfileSummary;
  profile: CpuProfile;
}

/** Functions listed per side. */
export const TOP_FUNCTIONS = 15;

/**
 * Loads `side` for `seconds` under the profiler and measures workerd's CPU meanwhile.
 * `load` and `cpuMs` are the bench's own (bench/lib/load.ts, runtime.ts), passed in to keep this file free of them.
 */
export async function profileSide(
  label: string,
  side: ProfiledSide,
  run: (url: string, req: ProfiledSide["req"]) => Promise<{ requests: number }>,
  cpuMs: (pid: number) => Promise<number>,
): Promise<SideProfile> {
  const pid = side.worker.pid;
  const before = pid ? await cpuMs(pid) : Number.NaN;
  const { profile, result } = await recordProfile(side.worker.mf, side.worker.name, () => run(side.worker.url + side.req.path, side.req));
  const after = pid ? await cpuMs(pid) : Number.NaN;
  const requests = result.requests;
  return { label, requests, cpuUsPerReq: ((after - before) * 1000) / Math.max(1, requests), summary: summarize(profile, side.script), profile };
}

const us = (ms: number, n: number) => `${((ms * 1000) / Math.max(1, n)).toFixed(1)} µs`;

/**
 * The report of one profiled case: per request, what the Worker's own JS costs,
 * what the runtime costs (built-ins called from JS, GC, and "(program)": workerd's
 * C++ outside JS, e.g. HTTP parsing and serialising a response), for the Worker
 * and for its baseline; then each side's top functions by self time.
 */
export function profileReport(id: string, sides: readonly SideProfile[]): string {
  const lines = [
    `### Profile: ${id}`,
    "",
    "| side | requests | CPU/req (/proc) | Worker JS/req | runtime/req | of which (program) | idle |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const s of sides) {
    const program = s.summary.functions.filter((f) => f.name === "(program)").reduce((t, f) => t + f.selfMs, 0);
    lines.push(
      `| ${s.label} | ${s.requests} | ${s.cpuUsPerReq.toFixed(1)} µs | ${us(s.summary.workerMs, s.requests)} | ${us(s.summary.runtimeMs, s.requests)} | ${us(program, s.requests)} | ${us(s.summary.idleMs, s.requests)} |`,
    );
  }
  for (const s of sides) {
    lines.push("", `Top functions by self time, ${s.label} (µs per request):`, "", "| µs/req | function | where | |", "| --- | --- | --- | --- |");
    for (const f of s.summary.functions.slice(0, TOP_FUNCTIONS)) {
      lines.push(`| ${((f.selfMs * 1000) / Math.max(1, s.requests)).toFixed(2)} | \`${f.name}\` | ${f.where} | ${f.bucket} |`);
    }
  }
  return lines.join("\n");
}
