import type { Miniflare } from "miniflare";
import { startWorker } from "../../../scripts/runtime.ts";

/**
 * Runs a Worker script in workerd with the bindings of one wrangler
 * environment, reading the local state that `wrangler dev --persist-to` and
 * `edgekv --persist-to` write. The same launcher the benchmark uses.
 * @example
 * const mf = await startWithEnvBindings("site", dir, readKeyWorker("SITE_KV"));
 * const res = await mf.dispatchFetch("http://x/?key=hello");
 */
export async function startWithEnvBindings(env: "site" | "splitter" | "auth" | "control", persistTo: string, script: string): Promise<Miniflare> {
  const worker = await startWorker({ name: `read-${env}`, modules: [{ path: "reader.js", contents: script }], env, persistTo });
  return worker.mf;
}

/** A tiny Worker that returns `env[binding].get(?key)` (404 when missing), for reading back what the CLI wrote. */
export function readKeyWorker(binding: string): string {
  return `export default { async fetch(req, env) {
    const key = new URL(req.url).searchParams.get("key");
    const got = await env.${binding}.getWithMetadata(key, "text");
    if (got.value === null) return new Response("missing", { status: 404 });
    return Response.json(got);
  } }`;
}
