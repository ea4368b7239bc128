import { readFile } from "node:fs/promises";
import { KvStore, bytes, text } from "../../shared/kv/index.ts";
import { flagArg, numberArg, stringArg, type ArgValues, type CommandGroup } from "../command.ts";
import { CliError, UsageError } from "../errors.ts";
import { WORKER_ENVS, type WorkerEnv } from "../targets.ts";

const ENV_OPTION = {
  env: { type: "string", description: "--env ENV          site, splitter or auth (picks SITE_KV, ROLLOUT_KV or TOKENS_KV)" },
} as const;

function envArg(values: ArgValues): WorkerEnv {
  const env = stringArg(values, "env");
  if (env === undefined) throw new UsageError("--env is required (site, splitter or auth)");
  if (!(env in WORKER_ENVS)) throw new UsageError(`--env must be site, splitter or auth, got "${env}"`);
  return env as WorkerEnv;
}

function parseMetadata(raw: string | undefined): unknown {
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new UsageError(`--metadata must be JSON, got ${raw}`);
  }
}

/**
 * `edgekv kv`: raw key access through the typed library, so every limit is
 * checked the same way the Workers check it. For debugging and scripts.
 */
export const kvGroup: CommandGroup = {
  name: "kv",
  summary: "read and write raw keys (limits checked as the Workers check them)",
  commands: [
    {
      name: "get",
      summary: "print a key's value",
      usage: "kv get KEY --env ENV",
      options: { ...ENV_OPTION, metadata: { type: "boolean", description: "--metadata         print metadata too" } },
      positionals: { min: 1, max: 1 },
      async run(ctx, { positionals, values }) {
        const env = envArg(values);
        const key = positionals[0]!;
        await ctx.withKv(env, async (kv) => {
          const store = new KvStore(kv, { codec: text() });
          const got = await store.getWithMetadata(key);
          if (got.value === null) throw new CliError(`key "${key}" not found in ${WORKER_ENVS[env].binding}`);
          ctx.emit({ key, value: got.value, metadata: got.metadata }, () =>
            flagArg(values, "metadata") ? `${got.value}\n${JSON.stringify(got.metadata)}` : got.value!,
          );
        });
      },
    },
    {
      name: "put",
      summary: "write a key (VALUE, or --file for binary content)",
      usage: "kv put KEY [VALUE] --env ENV [--file PATH] [--ttl SECONDS] [--expiration EPOCH] [--metadata JSON]",
      options: {
        ...ENV_OPTION,
        file: { type: "string", description: "--file PATH        read the value from a file" },
        ttl: { type: "string", description: "--ttl SECONDS      expire after SECONDS (>= 60)" },
        expiration: { type: "string", description: "--expiration EPOCH expire at EPOCH seconds (>= now + 60)" },
        metadata: { type: "string", description: "--metadata JSON    metadata (<= 1024 bytes serialized)" },
      },
      positionals: { min: 1, max: 2 },
      async run(ctx, { positionals, values }) {
        const env = envArg(values);
        const [key, inline] = positionals as [string, string | undefined];
        const file = stringArg(values, "file");
        if ((inline === undefined) === (file === undefined)) throw new UsageError("give either VALUE or --file PATH");
        const options = {
          expirationTtl: numberArg(values, "ttl"),
          expiration: numberArg(values, "expiration"),
          metadata: parseMetadata(stringArg(values, "metadata")),
        };
        let content: Uint8Array | undefined;
        if (file !== undefined) {
          try {
            content = await readFile(file);
          } catch (err) {
            throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
          }
        }
        await ctx.withKv(env, async (kv, where) => {
          if (content) await new KvStore(kv, { codec: bytes() }).put(key, content, options);
          else await new KvStore(kv, { codec: text() }).put(key, inline!, options);
          ctx.emit({ key, written: true, where }, () => `wrote ${key} to ${WORKER_ENVS[env].binding}, ${where}`);
        });
      },
    },
    {
      name: "list",
      summary: "list keys (lazily, page by page)",
      usage: "kv list --env ENV [--prefix PREFIX] [--limit N]",
      options: {
        ...ENV_OPTION,
        prefix: { type: "string", description: "--prefix PREFIX    only keys starting with PREFIX" },
        limit: { type: "string", description: "--limit N          stop after N keys" },
      },
      async run(ctx, { values }) {
        const env = envArg(values);
        const max = numberArg(values, "limit", { min: 1, integer: true }) ?? Infinity;
        const prefix = stringArg(values, "prefix");
        await ctx.withKv(env, async (kv) => {
          const store = new KvStore(kv, { codec: text() });
          const keys: { name: string; expiration: number | undefined; metadata: unknown }[] = [];
          for await (const k of store.keys(prefix === undefined ? {} : { prefix })) {
            if (keys.length >= max) break;
            keys.push(k);
          }
          ctx.emit(keys, () => keys.map((k) => k.name).join("\n"));
        });
      },
    },
    {
      name: "delete",
      summary: "delete a key",
      usage: "kv delete KEY --env ENV",
      options: ENV_OPTION,
      positionals: { min: 1, max: 1 },
      async run(ctx, { positionals, values }) {
        const env = envArg(values);
        const key = positionals[0]!;
        await ctx.withKv(env, async (kv) => {
          await new KvStore(kv, { codec: text() }).delete(key);
          ctx.emit({ key, deleted: true }, () => `deleted ${key}`);
        });
      },
    },
  ],
};
