import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCfApi, type CfApiStandIn, type StandInOptions } from "../../../scripts/cf-api.ts";

/** Namespace ids of the throwaway project (32 hex, as Cloudflare's are). */
export const NAMESPACE_IDS = {
  site: "5173000000000000000000000000a001",
  splitter: "5173000000000000000000000000a002",
  auth: "5173000000000000000000000000a003",
} as const;

export interface RemoteProject {
  api: CfApiStandIn;
  dir: string;
  config: string;
  /** Environment for a CLI run against the stand-in (the token in env, never on argv). */
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * A temp project whose wrangler.toml names real-looking namespace ids, and a Cloudflare
 * API stand-in that `--remote` reaches through CLOUDFLARE_API_BASE_URL.
 * @example const p = await remoteProject(); await runCli(["kv", "get", "k", "--env", "site", "--remote", "--config", p.config], { env: p.env });
 */
export async function remoteProject(options: StandInOptions = {}): Promise<RemoteProject> {
  const api = await startCfApi(options);
  const dir = await mkdtemp(join(tmpdir(), "edgekv-remote-"));
  const config = join(dir, "wrangler.toml");
  const envBlock = (env: keyof typeof NAMESPACE_IDS, binding: string) =>
    `[env.${env}]\nname = "edgekv-${env}"\n[[env.${env}.kv_namespaces]]\nbinding = "${binding}"\nid = "${NAMESPACE_IDS[env]}"\n`;
  await writeFile(
    config,
    `name = "edgekv"\ncompatibility_date = "2026-11-01"\n\n${envBlock("site", "SITE_KV")}\n${envBlock("splitter", "ROLLOUT_KV")}\n${envBlock("auth", "TOKENS_KV")}`,
  );
  return {
    api,
    dir,
    config,
    env: {
      CLOUDFLARE_API_BASE_URL: api.url,
      CLOUDFLARE_API_TOKEN: api.token,
      CLOUDFLARE_ACCOUNT_ID: api.accountId,
      WRANGLER_SEND_METRICS: "false",
      // wrangler must not find a developer's own login or config while testing.
      HOME: dir,
      XDG_CONFIG_HOME: join(dir, "xdg"),
      WRANGLER_LOG_PATH: join(dir, "logs"),
    },
    close: async () => {
      await api.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
