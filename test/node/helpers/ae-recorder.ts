import type { AeStandin } from "../../../scripts/ae-sql.ts";

/**
 * `wrangler dev` and Miniflare drop Analytics Engine writes, so a test gives the Worker a
 * recording binding instead: this entry module wraps the Worker's bundle (`./index.js`,
 * unchanged) and hands it an env whose `binding` records each point, then sends the
 * request's points to the Node service `service` after the answer (ctx.waitUntil), where
 * they go into the SQL API stand-in. The Worker's code path is the production one.
 * @example modules: [{ path: "entry.js", contents: recordingEntry() }, { path: "index.js", contents: bundle }],
 *          services: { AE_RECORDER: recorderService(api.standin) }
 */
export function recordingEntry(binding = "ROLLOUT_METRICS", service = "AE_RECORDER"): string {
  return `import worker from "./index.js";
const wrapped = new WeakMap();
export default {
  async fetch(request, env, ctx) {
    let e = wrapped.get(env);
    if (!e) {
      const points = [];
      e = { ...env, ${binding}: { writeDataPoint(p) { points.push(p); } }, points };
      wrapped.set(env, e);
    }
    const res = await worker.fetch(request, e, ctx);
    if (e.points.length) {
      const batch = e.points.splice(0);
      ctx.waitUntil(env.${service}.fetch("http://recorder/points", { method: "POST", body: JSON.stringify(batch) }));
    }
    return res;
  },
};`;
}

/** The Node side: each posted batch is written to `dataset` of the stand-in. */
export function recorderService(standin: AeStandin, dataset = "edgekv_rollout"): (request: Request) => Promise<Response> {
  return async (request) => {
    for (const p of (await request.json()) as Parameters<AeStandin["write"]>[1][]) standin.write(dataset, p);
    return new Response(null, { status: 204 });
  };
}
