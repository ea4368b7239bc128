import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { join } from "node:path";
import { ROOT } from "./cli.ts";

/**
 * Runs a Worker script in workerd with the bindings of one wrangler
 * environment, reading the local state that `wrangler dev --persist-to` and
 * `edgekv --persist-to` write.
 * @example
 * const mf = await startWithEnvBindings("site", dir, READ_KEY_WORKER);
 * const res = await mf.dispatchFetch("http://x/?key=hello");
 */
export async function startWithEnvBindings(env: "site" | "splitter" | "auth", persistTo: string, script: string): Promise<Miniflare> {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(ROOT, "wrangler.toml"), env);
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      ...withoutModuleRules(workerOptions),
      modules: true,
      script,
      compatibilityDate: "2026-11-01",
      resourcePersistencePath: join(persistTo, "v3"),
    } as Parameters<typeof convertV4MiniflareOptions>[0]),
  );
  await mf.ready;
  return mf;
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

/** Drops wrangler's module rules, which do not apply to an inline script (miniflare 5 refuses to convert them). */
export function withoutModuleRules(options: object): object {
  const { modulesRules: _ignored, ...rest } = options as { modulesRules?: unknown };
  return rest;
}
