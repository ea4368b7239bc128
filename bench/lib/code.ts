// Issue 26's second instrument: the CPU of a Worker's own request path, without HTTP. A copy
// of the Worker (the same bundle, environment and KV state) runs its `fetch` N times inside one
// request, on a Request built in the isolate, with `fetch` answered in the isolate too; the floor
// the same. Across the A/B pairs a ratio moves ±20% on this machine; the difference of the two
// sides, paired per round, is steadier, and it is exactly what code changes (HTTP parsing, the origin
// round trip and the response's serialisation are the same on both sides, and left out).
import { cpuMsFine } from "./first.ts";
import { startWorker, type RunningWorker } from "../../scripts/runtime.ts";
import { spread, type CodeResult } from "./stats.ts";

/** Requests per measured invocation, and invocations per side (alternated A F A F ..., after one warm-up each). */
export const LOOP_REQUESTS = 2000;
// Many short rounds: a round's figure moves with the collector (a 5 KiB body per request is 10 MB a round); the paired median does not.
export const LOOP_ROUNDS = 15;

/** What the origin answers in the isolate: the bench origin's brief JSON (scripts/origin.ts). */
const ORIGIN_BODY = '{"ok":true,"path":"/api/x","user":"bench"}';

/**
 * Appended to a module whose default export was renamed `worker`: a default export that runs
 * `worker.fetch` `n` times on the request the header `x-bench-loop` describes, and answers the
 * statuses seen. `fetch` is the isolate's own stub, so a proxy's subrequest never leaves it.
 */
const LOOP_RUNNER = `
globalThis.fetch = async () => new Response(${JSON.stringify(ORIGIN_BODY)}, { headers: { "content-type": "application/json", "content-length": "${ORIGIN_BODY.length}" } });
export default {
  async fetch(request, env, ctx) {
    const spec = JSON.parse(request.headers.get("x-bench-loop"));
    const seen = {};
    for (let i = 0; i < spec.n; i++) {
      const res = await worker.fetch(new Request(spec.url, { method: spec.method, headers: spec.headers }), env, ctx);
      seen[res.status] = (seen[res.status] ?? 0) + 1;
      await res.arrayBuffer();
    }
    return Response.json(seen);
  },
};
`;

/**
 * A module's text with its default export renamed `worker` and the loop runner added: a floor's
 * `export default {` or a bundle's closing `export { X as default, ... };`.
 * @example loopModule("export default { fetch() { return new Response('ok'); } };")
 */
export function loopModule(source: string): string {
  const clauses = [...source.matchAll(/export\s*\{([^}]*)\};?/g)];
  const last = clauses.at(-1);
  const items = (last?.[1] ?? "").split(",").map((i) => i.trim());
  const def = items.find((i) => /\sas\s+default$/.test(i));
  if (last && def) {
    const rest = items.filter((i) => i !== def);
    const renamed = `const worker = ${def.split(/\s+as\s+/)[0]};${rest.length ? `export{${rest.join(",")}};` : ""}`;
    return source.slice(0, last.index) + renamed + source.slice(last.index + last[0].length) + LOOP_RUNNER;
  }
  if (source.includes("export default {")) return source.replace("export default {", "const worker = {") + LOOP_RUNNER;
  throw new Error("loopModule: no default export to rename");
}

/** A side of a case in the loop: the Worker it copies and the request it sends. */
export interface LoopSide {
  worker: RunningWorker;
  req: { path: string; method?: string; headers?: Record<string, string> };
  expect: number;
}

const copies = new Map<string, Promise<RunningWorker>>();

/** One copy per Worker (by name), in the loop; stopped with the bench's other workers. */
function loopCopy(w: RunningWorker, stops: (() => Promise<void>)[]): Promise<RunningWorker> {
  let c = copies.get(w.name);
  if (!c) {
    const module = w.spec.modules[0]!;
    c = startWorker({ ...w.spec, name: `${w.name}-loop`, inspectorPort: undefined, modules: [{ path: module.path, contents: loopModule(module.contents) }] });
    c.then((x) => stops.push(() => x.stop())).catch(() => undefined);
    copies.set(w.name, c);
  }
  return c;
}

async function invoke(copy: RunningWorker, side: LoopSide, n: number): Promise<number> {
  const pid = copy.pid;
  if (pid === null) throw new Error(`loop: no workerd pid for ${copy.name}`);
  const spec = { n, url: side.worker.url + side.req.path, method: side.req.method ?? "GET", headers: side.req.headers ?? {} };
  const before = await cpuMsFine(pid);
  const res = await fetch(copy.url, { headers: { "x-bench-loop": JSON.stringify(spec) } });
  const seen = (await res.json()) as Record<string, number>;
  const cpu = (await cpuMsFine(pid)) - before;
  if (seen[side.expect] !== n) throw new Error(`loop: ${side.worker.name} ${side.req.path} answered ${JSON.stringify(seen)}, expected ${n} × ${side.expect}`);
  return (cpu * 1000) / n;
}

/**
 * Both sides in the loop: a warm-up invocation each, then `rounds` alternated invocations of `n` requests.
 * @example const r = await measureCode({ worker: site, req: { path: "/" }, expect: 200 }, { worker: floor, req: { path: "/" }, expect: 200 }, stops);
 */
export async function measureCode(a: LoopSide, floor: LoopSide, stops: (() => Promise<void>)[], n = LOOP_REQUESTS, rounds = LOOP_ROUNDS): Promise<CodeResult> {
  const [ca, cf] = [await loopCopy(a.worker, stops), await loopCopy(floor.worker, stops)];
  // Warm-up (discarded): the JIT's tiers and the isolates' caches.
  await invoke(ca, a, n);
  await invoke(cf, floor, n);
  const xs: number[] = [];
  const fs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    xs.push(await invoke(ca, a, n));
    fs.push(await invoke(cf, floor, n));
  }
  return { a: spread(xs), floor: spread(fs), gap: spread(xs.map((x, i) => x - fs[i]!)) };
}
