// `npm run bench:metrics`: the CPU one Analytics Engine point costs the splitter (issue 25).
// A Worker with the splitter's ROLLOUT_METRICS binding (wrangler.toml [env.splitter]) writes K
// points per request, exactly as workers/splitter/metrics.ts writes one; workerd's CPU time
// (/proc, scripts/runtime.ts) over many requests at K = 0, 1 and 50 gives the cost of a point.
// Locally the binding is Miniflare's simulator (it drops the point after the same call); the
// production binding also returns at once and is not awaited. Prints a Markdown table on stdout.
import { cpuMs, startWorker } from "../scripts/runtime.ts";

const REQUESTS = 3000;
const WRITER = `export default {
  async fetch(request, env) {
    const k = Number(new URL(request.url).searchParams.get("k"));
    for (let i = 0; i < k; i++) {
      env.ROLLOUT_METRICS.writeDataPoint({ indexes: ["12"], blobs: ["green", "2xx", "bucket", "AMS"], doubles: [41, 1] });
    }
    return new Response("ok");
  },
};`;

const w = await startWorker({ name: "metrics-bench", env: "splitter", modules: [{ path: "w.js", contents: WRITER }] });
try {
  if (w.pid === null) throw new Error("could not find the workerd process");
  const run = async (k: number) => {
    for (let i = 0; i < 200; i++) await (await w.mf.dispatchFetch(`http://bench.test/?k=${k}`)).arrayBuffer();
    const before = await cpuMs(w.pid!);
    for (let i = 0; i < REQUESTS; i++) await (await w.mf.dispatchFetch(`http://bench.test/?k=${k}`)).arrayBuffer();
    return ((await cpuMs(w.pid!)) - before) / REQUESTS;
  };
  const base = await run(0);
  const one = await run(1);
  const fifty = await run(50);
  console.log("| points per request | workerd CPU per request | per point |");
  console.log("| --- | --- | --- |");
  console.log(`| 0 | ${(base * 1000).toFixed(0)} µs | - |`);
  console.log(`| 1 | ${(one * 1000).toFixed(0)} µs | ${((one - base) * 1000).toFixed(1)} µs |`);
  console.log(`| 50 | ${(fifty * 1000).toFixed(0)} µs | ${(((fifty - base) / 50) * 1000).toFixed(1)} µs |`);
  console.log(`\n${REQUESTS} requests each; /proc CPU ticks are 10 ms, so the one-point row is within noise of the baseline.`);
} finally {
  await w.stop();
}
