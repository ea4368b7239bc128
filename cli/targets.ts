import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { KvBinding } from "../shared/kv/index.ts";
import { CliError } from "./errors.ts";

/** The three Workers, their wrangler environment and the one KV binding each has. */
export const WORKER_ENVS = {
  site: { binding: "SITE_KV", worker: "edgekv-site" },
  splitter: { binding: "ROLLOUT_KV", worker: "edgekv-splitter" },
  auth: { binding: "TOKENS_KV", worker: "edgekv-auth" },
} as const;
export type WorkerEnv = keyof typeof WORKER_ENVS;

/** Where the CLI reads and writes KV. */
export interface KvTarget {
  /** `false`: local state that `wrangler dev` reads; `true`: the Cloudflare account. */
  remote: boolean;
  /** Same meaning as `wrangler dev --persist-to`; default `.wrangler/state` beside wrangler.toml. */
  persistTo: string | undefined;
  /** Path of wrangler.toml. */
  configPath: string;
}

export interface OpenKv {
  kv: KvBinding;
  /** Human description, e.g. "local (.wrangler/state)". */
  where: string;
  dispose(): Promise<void>;
}

/** The persistence root that `wrangler dev --persist-to <dir>` uses for `dir` (it appends `v3`). */
export function localStatePath(target: KvTarget): string {
  const root = target.persistTo ? resolve(target.persistTo) : join(dirname(resolve(target.configPath)), ".wrangler", "state");
  return join(root, "v3");
}

/**
 * Opens the KV namespace of one Worker environment. Local and remote share
 * everything but the transport: both go through wrangler's platform proxy,
 * which hands back a real `KVNamespace` binding (local: the same SQLite state
 * `wrangler dev` uses; remote: a proxy to the account, authenticated by
 * `wrangler login` or CLOUDFLARE_API_TOKEN).
 */
export async function openKv(env: WorkerEnv, target: KvTarget): Promise<OpenKv> {
  process.env.WRANGLER_SEND_METRICS ??= "false";
  const { getPlatformProxy, unstable_readConfig } = await import("wrangler");
  const { binding } = WORKER_ENVS[env];
  let config;
  try {
    config = unstable_readConfig({ config: target.configPath, env });
  } catch (err) {
    throw new CliError(`cannot read ${target.configPath}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const ns = config.kv_namespaces.find((n: { binding: string }) => n.binding === binding) as { binding: string; id?: string } | undefined;
  if (!ns) throw new CliError(`${target.configPath} has no KV binding ${binding} in [env.${env}]`);

  if (!target.remote) {
    const path = localStatePath(target);
    const proxy = await getPlatformProxy<Record<string, KvBinding>>({
      configPath: target.configPath,
      environment: env,
      persist: { path },
      remoteBindings: false,
    });
    return { kv: proxy.env[binding] as KvBinding, where: `local (${path})`, dispose: () => proxy.dispose() };
  }

  if (!ns.id || ns.id.endsWith("-local")) {
    throw new CliError(
      `[env.${env}] ${binding} has no real namespace id (${ns.id ?? "none"}); create one with ` +
        `\`npx wrangler kv namespace create ${binding}\` and put its id in ${target.configPath}`,
    );
  }
  // A throwaway config holding only this binding, marked remote.
  const dir = await mkdtemp(join(tmpdir(), "edgekv-remote-"));
  const remoteConfig = join(dir, "wrangler.json");
  await writeFile(
    remoteConfig,
    JSON.stringify({
      name: config.name,
      compatibility_date: config.compatibility_date,
      ...(config.account_id ? { account_id: config.account_id } : {}),
      kv_namespaces: [{ binding, id: ns.id, remote: true }],
    }),
  );
  try {
    const proxy = await getPlatformProxy<Record<string, KvBinding>>({ configPath: remoteConfig, remoteBindings: true, persist: false });
    return {
      kv: proxy.env[binding] as KvBinding,
      where: `remote (namespace ${ns.id})`,
      dispose: async () => {
        await proxy.dispose();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw new CliError(
      `cannot reach KV namespace ${ns.id} remotely (run \`npx wrangler login\` or set CLOUDFLARE_API_TOKEN): ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
