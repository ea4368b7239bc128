import { readFile, writeFile } from "node:fs/promises";
import { KvStore, bytes, type KvBinding } from "../../shared/kv/index.ts";
import { flagArg, numberArg, stringArg, type ArgValues, type CommandGroup, type Context, type OptionSpec } from "../command.ts";
import { CliError, UsageError } from "../errors.ts";
import { oneLine } from "../output.ts";
import { WORKER_ENVS, type WorkerEnv } from "../targets.ts";
import { checkKvKey, checkKvPut } from "../validate.ts";

const ENV_OPTION: Record<string, OptionSpec> = {
  env: { type: "string", description: "ENV: site, splitter or auth (picks SITE_KV, ROLLOUT_KV or TOKENS_KV)" },
};

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

/** Opens one environment's namespace as a raw byte store: values go in and out exactly as stored. */
function withRaw<T>(ctx: Context, env: WorkerEnv, fn: (store: KvStore<Uint8Array, unknown, "bytes">, where: string) => Promise<T>): Promise<T> {
  return ctx.withKv(env, (kv: KvBinding, where) => fn(new KvStore(kv, { codec: bytes() }), where));
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The value as text when it is valid UTF-8, else null (binary). */
function asText(data: Uint8Array): string | null {
  try {
    return utf8.decode(data);
  } catch {
    return null;
  }
}

async function readValueFile(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** Prints a value: raw bytes to a pipe or file; on a terminal text gets a final newline and binary is refused. */
function printValue(ctx: Context, value: Uint8Array, metadata: unknown, withMetadata: boolean): void {
  const text = asText(value);
  if (ctx.stdoutIsTTY) {
    if (text === null) throw new CliError(`the value is binary (${value.byteLength} bytes); use --file PATH, or redirect stdout to a file`);
    ctx.out(`${text.replace(/\n$/, "")}${withMetadata ? `\n${JSON.stringify(metadata)}` : ""}`);
    return;
  }
  ctx.outBytes(value);
  if (withMetadata) ctx.out(`${text === null || text.endsWith("\n") || text === "" ? "" : "\n"}${JSON.stringify(metadata)}`);
}

/** `kv get`: the value to --file, as JSON, or as raw bytes on stdout. */
async function getValue(ctx: Context, { positionals, values }: { positionals: string[]; values: ArgValues }): Promise<void> {
  const env = envArg(values);
  const key = positionals[0]!;
  checkKvKey(key);
  const file = stringArg(values, "file");
  await withRaw(ctx, env, async (store) => {
    const got = await store.getWithMetadata(key);
    if (got.value === null) throw new CliError(`key "${key}" not found in ${WORKER_ENVS[env].binding}`);
    const value = got.value;
    if (file !== undefined) {
      await writeFile(file, value);
      ctx.emit({ key, file, bytes: value.byteLength, metadata: got.metadata }, () => `wrote ${value.byteLength} bytes of ${key} to ${file}`);
    } else if (ctx.global.json) {
      const text = asText(value);
      const shown = text === null ? { value: Buffer.from(value).toString("base64"), encoding: "base64" } : { value: text };
      ctx.emit({ key, ...shown, metadata: got.metadata }, () => "");
    } else printValue(ctx, value, got.metadata, flagArg(values, "metadata"));
  });
}

/** `kv put`: VALUE or --file, every KV limit checked before the (slow) namespace is opened. */
async function putValue(ctx: Context, { positionals, values }: { positionals: string[]; values: ArgValues }): Promise<void> {
  const env = envArg(values);
  const [key, inline] = positionals as [string, string | undefined];
  const file = stringArg(values, "file");
  if ((inline === undefined) === (file === undefined)) throw new UsageError("give either VALUE or --file PATH");
  const options = {
    expirationTtl: numberArg(values, "ttl"),
    expiration: numberArg(values, "expiration"),
    metadata: parseMetadata(stringArg(values, "metadata")),
  };
  const content = file === undefined ? new TextEncoder().encode(inline) : await readValueFile(file);
  checkKvPut({ key, valueBytes: content.byteLength, ...options }, ctx.now());
  await withRaw(ctx, env, async (store, where) => {
    await store.put(key, content, options);
    ctx.emit({ key, written: true, bytes: content.byteLength, where }, () => `wrote ${key} to ${WORKER_ENVS[env].binding}, ${where}`);
  });
}

const GET_OPTIONS: Record<string, OptionSpec> = {
  ...ENV_OPTION,
  file: { type: "string", description: "PATH: write the value to PATH, byte for byte" },
  metadata: { type: "boolean", description: "print metadata too" },
};
const PUT_OPTIONS: Record<string, OptionSpec> = {
  ...ENV_OPTION,
  file: { type: "string", description: "PATH: read the value from a file" },
  ttl: { type: "number", description: "SECONDS: expire after SECONDS (>= 60)" },
  expiration: { type: "number", description: "EPOCH: expire at EPOCH seconds (>= now + 60)" },
  metadata: { type: "string", description: "JSON: metadata (<= 1024 bytes serialized)" },
};

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
      summary: "print a key's value (the exact bytes; --file PATH writes them to a file)",
      usage: "kv get KEY --env ENV [--file PATH] [--metadata]",
      details: 'With --json, a value that is not UTF-8 text is given in base64 ("encoding": "base64").',
      options: GET_OPTIONS,
      positionals: { min: 1, max: 1 },
      run: getValue,
    },
    {
      name: "put",
      summary: "write a key (VALUE, or --file PATH for any content, byte for byte)",
      usage: "kv put KEY [VALUE] --env ENV [--file PATH] [--ttl SECONDS] [--expiration EPOCH] [--metadata JSON]",
      options: PUT_OPTIONS,
      positionals: { min: 1, max: 2 },
      run: putValue,
    },
    {
      name: "list",
      summary: "list key names, one a line (lazily, page by page)",
      usage: "kv list --env ENV [--prefix PREFIX] [--limit N]",
      options: {
        ...ENV_OPTION,
        prefix: { type: "string", description: "PREFIX: only keys starting with PREFIX" },
        limit: { type: "number", description: "N: stop after N keys" },
      },
      async run(ctx, { values }) {
        const env = envArg(values);
        const max = numberArg(values, "limit", { min: 1, integer: true }) ?? Infinity;
        const prefix = stringArg(values, "prefix");
        await withRaw(ctx, env, async (store) => {
          const keys: { name: string; expiration: number | undefined; metadata: unknown }[] = [];
          for await (const k of store.keys(prefix === undefined ? {} : { prefix })) {
            if (keys.length >= max) break;
            keys.push(k);
          }
          // One key a line: a key holding a newline or an escape sequence is shown escaped (cli/output.ts).
          ctx.emit(keys, () => keys.map((k) => oneLine(k.name)).join("\n"));
        });
      },
    },
    {
      name: "delete",
      summary: "delete a key (asks first; --yes without a terminal)",
      usage: "kv delete KEY --env ENV [--yes]",
      options: ENV_OPTION,
      positionals: { min: 1, max: 1 },
      async run(ctx, { positionals, values }) {
        const env = envArg(values);
        const key = positionals[0]!;
        checkKvKey(key);
        await ctx.confirm(`delete key "${key}" from ${WORKER_ENVS[env].binding}`);
        await withRaw(ctx, env, async (store) => {
          await store.delete(key);
          ctx.emit({ key, deleted: true }, () => `deleted ${key}`);
        });
      },
    },
  ],
};
