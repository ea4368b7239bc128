import { dirname, join, resolve } from "node:path";
import type { KvBinding } from "../shared/kv/index.ts";
import { CliError } from "./errors.ts";
import { resolveAccount } from "./remote/account.ts";
import { remoteKv, type RemoteKvBinding } from "./remote/binding.ts";
import { CfApiClient, checkApiBase, DEFAULT_API_BASE_URL, type ClientOptions } from "./remote/client.ts";
import { resolveCredentials } from "./remote/credentials.ts";

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

/**
 * Where `wrangler dev` reads a Worker's local secrets: `.dev.vars.<env>`, else `.dev.vars`, beside the
 * config. None for --remote: the deployed Worker's secrets are not in those files.
 */
export function devVarsFiles(target: KvTarget, env: WorkerEnv): string[] {
  if (target.remote) return [];
  const dir = dirname(resolve(target.configPath));
  return [join(dir, `.dev.vars.${env}`), join(dir, ".dev.vars")];
}

/** The persistence root that `wrangler dev --persist-to <dir>` uses for `dir` (it appends `v3`). */
export function localStatePath(target: KvTarget): string {
  const root = target.persistTo ? resolve(target.persistTo) : join(dirname(resolve(target.configPath)), ".wrangler", "state");
  return join(root, "v3");
}

/**
 * Opens the KV namespace of one Worker environment. Local state goes through wrangler's
 * platform proxy, which hands back a real `KVNamespace` binding (the same SQLite state
 * `wrangler dev` uses). Remote goes straight to Workers KV's REST API (cli/remote/):
 * no preview Worker is uploaded, so a token with only "Workers KV Storage: Edit" is
 * enough, and many keys go in one bulk request. `vars` holds CLOUDFLARE_API_TOKEN,
 * CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_BASE_URL (default: process.env).
 */
export async function openKv(env: WorkerEnv, target: KvTarget, vars: Readonly<Record<string, string | undefined>> = process.env): Promise<OpenKv> {
  process.env.WRANGLER_SEND_METRICS ??= "false";
  const { experimental_readRawConfig, getPlatformProxy, unstable_readConfig } = await import("wrangler");
  const { binding } = WORKER_ENVS[env];
  let config;
  // Only the environment this command needs, and only if the config has it: a single-Worker project
  // (no [env.*], the binding at the top level) is read as it is, without wrangler's "No environment found".
  let environment: string | undefined = env;
  try {
    const { rawConfig } = experimental_readRawConfig({ config: target.configPath });
    if (!rawConfig.env?.[env]) environment = undefined;
    config = unstable_readConfig({ config: target.configPath, ...(environment ? { env: environment } : {}) });
  } catch (err) {
    throw new CliError(`cannot read ${target.configPath}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const ns = config.kv_namespaces.find((n: { binding: string }) => n.binding === binding) as { binding: string; id?: string } | undefined;
  if (!ns) throw new CliError(`${target.configPath} has no KV binding ${binding} in ${environment ? `[env.${env}]` : `[env.${env}] or at the top level`}`);

  if (!target.remote) {
    const path = localStatePath(target);
    const proxy = await startLocal(path, () =>
      getPlatformProxy<Record<string, KvBinding>>({
        configPath: target.configPath,
        ...(environment ? { environment } : {}),
        persist: { path },
        remoteBindings: false,
      }),
    );
    // Bounded: a runtime wedged on a busy state must not keep the command from ending.
    const dispose = () => Promise.race([proxy.dispose(), new Promise<void>((r) => setTimeout(r, LOCAL_DISPOSE_TIMEOUT_MS).unref())]);
    return { kv: boundedCalls(proxy.env[binding] as KvBinding, LOCAL_KV_CALL_TIMEOUT_MS), where: `local (${path})`, dispose };
  }

  if (!ns.id || ns.id.endsWith("-local")) {
    throw new CliError(
      `${environment ? `[env.${env}] ` : ""}${binding} has no real namespace id (${ns.id ?? "none"}); create one with ` +
        `\`npx wrangler kv namespace create ${binding}\` and put its id in ${target.configPath} ` +
        `(offline: \`eval "$(npm run -s cf-api -- --print-env)"\` first; docs/remote.md)`,
    );
  }
  const kv = await openRemoteKv({ namespaceId: ns.id, configAccountId: config.account_id, cwd: dirname(resolve(target.configPath)), vars });
  return { kv, where: kv.where, dispose: async () => {} };
}

/** Starts of the local runtime tried when the state is busy, and the time one start may take. */
export const LOCAL_START_ATTEMPTS = 4;
export const LOCAL_START_TIMEOUT_MS = 60_000;
export const LOCAL_DISPOSE_TIMEOUT_MS = 10_000;
/** The longest one local KV call may take: two runtimes on one SQLite state can wedge one of them. */
export const LOCAL_KV_CALL_TIMEOUT_MS = 30_000;

/**
 * `kv` with every call bounded by `ms`: a call that has not settled by then rejects, and the
 * command ends with `KV <op> ... failed: no answer within ...; run again` instead of hanging
 * on a local runtime wedged on a busy state.
 * @example const kv = boundedCalls(proxy.env.SITE_KV, LOCAL_KV_CALL_TIMEOUT_MS);
 */
export function boundedCalls<T extends object>(kv: T, ms: number): T {
  return new Proxy(kv, {
    get(target, prop) {
      const v: unknown = Reflect.get(target, prop);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) =>
        deadline(
          Promise.resolve(v.apply(target, args)),
          ms,
          `no answer within ${ms / 1000} s from the local runtime (another edgekv command or wrangler dev may hold its state); run again`,
        );
    },
  });
}

/**
 * Starts the local runtime on `path`, bounded: two commands opening one local
 * state at once can meet SQLITE_BUSY, so a busy start is retried a few times
 * with jittered backoff, and a start that never answers times out; either
 * ends the command with a clear error, never a hang (cli/bin.mjs exits on failure).
 */
async function startLocal<T>(path: string, start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await deadline(start(), LOCAL_START_TIMEOUT_MS, `no answer within ${LOCAL_START_TIMEOUT_MS / 1000} s`);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const busy = /SQLITE_BUSY|database is locked/i.test(message);
      if (!busy || attempt >= LOCAL_START_ATTEMPTS) {
        const why = busy ? " (another edgekv command or wrangler dev was opening the same local state)" : "";
        throw new CliError(`cannot start the local runtime on ${path}${why}: ${message.split("\n")[0]}; run again`);
      }
      await new Promise((r) => setTimeout(r, 200 * attempt + Math.floor(Math.random() * 300)));
    }
  }
}

/** `p`, or a rejection with `message` once `ms` have passed; the timer never outlives the race. */
function deadline<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * The REST binding for one namespace: credentials, API base and account resolved in
 * wrangler's order (cli/remote/credentials.ts, cli/remote/account.ts).
 * @example const kv = await openRemoteKv({ namespaceId, configAccountId: undefined, cwd, vars: process.env });
 */
export async function openRemoteKv(options: {
  namespaceId: string;
  configAccountId: string | undefined;
  cwd: string;
  vars: Readonly<Record<string, string | undefined>>;
  onRequest?: ClientOptions["onRequest"];
}): Promise<RemoteKvBinding> {
  const { vars } = options;
  const baseUrl = vars.CLOUDFLARE_API_BASE_URL?.trim() || DEFAULT_API_BASE_URL;
  checkApiBase(baseUrl);
  const { token } = await resolveCredentials(vars, options.cwd);
  const client = new CfApiClient({ baseUrl, token, ...(options.onRequest ? { onRequest: options.onRequest } : {}) });
  const account = await resolveAccount(vars, options.configAccountId, client);
  return remoteKv(client, account.id, options.namespaceId);
}
