// First requests (issue 26): each Worker's first request in a fresh isolate, against hello-world's,
// and what a KiB of bundle costs there. Each round starts every target in a fresh workerd, in turn.
import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { startWorker, type RunningWorker, type WorkerSpec } from "../../scripts/runtime.ts";
import { spread, table, type Spread } from "./stats.ts";

/** One Worker to start fresh and send one request. */
export interface FirstTarget {
  name: string;
  spec: Omit<WorkerSpec, "name">;
  path: string;
  headers?: Record<string, string>;
  expect: number;
}

export interface FirstRow {
  name: string;
  /** gzip -9 bytes of the modules the Worker was started with. */
  gzipBytes: number;
  /** workerd's CPU when it answers ready: process start, compile and evaluate the modules. */
  readyMs: Spread;
  /** CPU of the first request: lazy per-isolate set-up (config parsing), first KV reads, cold code. */
  firstMs: Spread;
  /** Wall time of the first request, loopback. */
  firstWallMs: Spread;
  /** CPU of the second request, for scale. */
  secondMs: Spread;
}

/** Bytes of generated module code, to price a KiB of bundle: top-level tables and lazily compiled functions. */
export const PAD_BYTES = 1024 * 1024;

/**
 * A module of about `bytes` of code shaped like a bundle: functions with their own names, string
 * literals of random hex (so it compresses about as real code does) and a table built at evaluation.
 */
export function paddingModule(bytes: number): string {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const word = randomBytes(6).toString("hex");
    const fn = `function f${i}_${word}(a,b){const c=a?.${"k"}${i % 97}??"${word}";if(typeof b!=="number")throw new TypeError("f${i}: "+c);return c.length*b+${i};}\n`;
    const row = `T.push({id:${i},name:"${word}",fn:f${i}_${word},tag:"${randomBytes(4).toString("hex")}"});\n`;
    parts.push(fn, row);
    size += fn.length + row.length;
  }
  return `export const T=[];\n${parts.join("")}`;
}

/** Gzip -9 size of some module sources. */
export function gzipSize(sources: readonly string[]): number {
  return sources.reduce((n, s) => n + gzipSync(s, { level: 9 }).byteLength, 0);
}

/**
 * CPU of a process in ms, to the nanosecond: the sum of its live threads' on-CPU time
 * (/proc/<pid>/task/<tid>/schedstat, field 1), where /proc/<pid>/stat counts 10 ms ticks.
 */
export async function cpuMsFine(pid: number): Promise<number> {
  let ns = 0;
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/schedstat`, "utf8").catch(() => "0");
    ns += Number(stat.split(" ")[0]) || 0;
  }
  return ns / 1e6;
}

async function once(t: FirstTarget): Promise<{ ready: number; first: number; wall: number; second: number }> {
  let w: RunningWorker | undefined;
  try {
    w = await startWorker({ name: t.name, ...t.spec });
    if (w.pid === null) throw new Error(`first requests: no workerd pid for ${t.name}`);
    const send = async () => {
      const res = await fetch(w!.url + t.path, { headers: t.headers ?? {} });
      await res.arrayBuffer();
      if (res.status !== t.expect) throw new Error(`first requests: ${t.name} ${t.path} answered ${res.status}, expected ${t.expect}`);
    };
    const ready = await cpuMsFine(w.pid);
    const t0 = performance.now();
    await send();
    const wall = performance.now() - t0;
    const first = (await cpuMsFine(w.pid)) - ready;
    await send();
    const second = (await cpuMsFine(w.pid)) - ready - first;
    return { ready, first, wall, second };
  } finally {
    await w?.stop();
  }
}

/**
 * `rounds` rounds; in each, every target once in a fresh workerd (alternated, so drift hits all alike).
 * @example const rows = await firstRequests([hello, site], 5, log);
 */
export async function firstRequests(targets: readonly FirstTarget[], rounds: number, log: (s: string) => void): Promise<FirstRow[]> {
  const samples = targets.map(() => ({ ready: [] as number[], first: [] as number[], wall: [] as number[], second: [] as number[] }));
  for (let r = 0; r < rounds; r++) {
    for (const [i, t] of targets.entries()) {
      const s = await once(t);
      const into = samples[i]!;
      into.ready.push(s.ready);
      into.first.push(s.first);
      into.wall.push(s.wall);
      into.second.push(s.second);
    }
    log(`  first requests: round ${r + 1}/${rounds}`);
  }
  return targets.map((t, i) => ({
    name: t.name,
    gzipBytes: gzipSize(t.spec.modules.map((m) => m.contents)),
    readyMs: spread(samples[i]!.ready),
    firstMs: spread(samples[i]!.first),
    firstWallMs: spread(samples[i]!.wall),
    secondMs: spread(samples[i]!.second),
  }));
}

const ms = (s: Spread) => `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;

/** The table, each row against hello-world's first request (the first row). CPU from each thread's schedstat (ns). */
export function firstTable(rows: readonly FirstRow[]): string {
  const hello = rows[0]!;
  return table(
    [
      "Worker",
      "gzip KiB",
      "workerd CPU at ready, ms",
      "first request CPU, ms",
      "ready + first minus hello-world's, ms",
      "first request wall, ms",
      "second request CPU, ms",
    ],
    rows.map((r) => [
      r.name,
      (r.gzipBytes / 1024).toFixed(2),
      ms(r.readyMs),
      ms(r.firstMs),
      (r.readyMs.median + r.firstMs.median - hello.readyMs.median - hello.firstMs.median).toFixed(1),
      ms(r.firstWallMs),
      ms(r.secondMs),
    ]),
  );
}

/** CPU ms per gzip KiB of bundle: the padded hello-world's ready + first, minus hello-world's, per gzip KiB of padding. */
export function costPerKiB(hello: FirstRow, padded: FirstRow): number {
  const extra = padded.readyMs.median + padded.firstMs.median - hello.readyMs.median - hello.firstMs.median;
  return extra / ((padded.gzipBytes - hello.gzipBytes) / 1024);
}
