import { parseArgs } from "node:util";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { EdgeKvError } from "../shared/kv/index.ts";
import type { ArgValues, Command, CommandGroup, Context, GlobalOptions, OptionSpec } from "./command.ts";
import { kvGroup } from "./commands/kv.ts";
import { rolloutGroup } from "./commands/rollout.ts";
import { siteGroup } from "./commands/site.ts";
import { tokenGroup } from "./commands/token.ts";
import { CliError, UsageError } from "./errors.ts";
import { openKv, type WorkerEnv } from "./targets.ts";
import { argHoldsToken, processStdin, TOKEN_ON_ARGV_MESSAGE, type StdinSource } from "./secret-input.ts";

export const GROUPS: CommandGroup[] = [siteGroup, rolloutGroup, tokenGroup, kvGroup];

const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  local: { type: "boolean", description: "--local            use local state, as `wrangler dev` does (default)" },
  remote: { type: "boolean", description: "--remote           use the Cloudflare account (wrangler login or CLOUDFLARE_API_TOKEN)" },
  "persist-to": {
    type: "string",
    description: "--persist-to DIR   local state folder, as `wrangler dev --persist-to` (default .wrangler/state; env EDGEKV_PERSIST_TO)",
  },
  config: { type: "string", description: "--config FILE      wrangler config (default ./wrangler.toml, searched upwards)" },
  json: { type: "boolean", description: "--json             machine-readable output" },
  verbose: { type: "boolean", description: "--verbose          stack traces on errors" },
  yes: { type: "boolean", short: "y", description: "--yes, -y          do not ask for confirmation" },
  help: { type: "boolean", short: "h", description: "--help, -h         show help" },
};

/** What an option name looks like (edgekv's longest is 16 characters; a strong secret is >= 32). */
const OPTION_NAME = /^--?[A-Za-z][A-Za-z0-9-]{0,23}$/;

/** An unknown command, quoted when it looks like a (mistyped) command, else withheld: it may be a pasted secret. */
const shown = (words: string) => (/^[a-z][a-z -]{0,23}$/.test(words) ? `"${words}"` : "(not shown)");

/** Finds wrangler.toml from the working directory upwards. */
function findConfig(start: string): string {
  let dir = resolve(start);
  for (;;) {
    const candidate = join(dir, "wrangler.toml");
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) return join(resolve(start), "wrangler.toml");
    dir = up;
  }
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

function formatOptions(options: Record<string, OptionSpec>): string {
  return Object.values(options)
    .map((o) => `  ${o.description}`)
    .join("\n");
}

export function rootHelp(): string {
  const groups = GROUPS.map((g) => `  ${g.name.padEnd(9)}${g.summary}`).join("\n");
  return `edgekv ${version()}: data at the edge with Workers KV

Usage: edgekv <group> <command> [options]

Groups:
${groups}

Global options:
${formatOptions(GLOBAL_OPTIONS)}

Run \`edgekv <group> --help\` for a group's commands.`;
}

function groupHelp(group: CommandGroup): string {
  const cmds = group.commands.map((c) => `  ${c.name.padEnd(12)}${c.summary}`).join("\n");
  return `edgekv ${group.name}: ${group.summary}
${group.details ? `\n${group.details}\n` : ""}
Commands:
${cmds || "  (none yet)"}

Run \`edgekv ${group.name} <command> --help\` for details.`;
}

function commandHelp(group: CommandGroup, cmd: Command): string {
  const own = cmd.options && Object.keys(cmd.options).length ? `\nOptions:\n${formatOptions(cmd.options)}\n` : "";
  return `Usage: edgekv ${cmd.usage}

${cmd.summary}
${cmd.details ? `\n${cmd.details}\n` : ""}${own}
Global options:
${formatOptions(GLOBAL_OPTIONS)}`;
}

export interface MainIo {
  stdout?: (s: string) => void;
  stderr?: (s: string) => void;
  isTTY?: boolean;
  now?: () => number;
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Standard input (default: the process's), read only by commands that take a piped secret. */
  stdin?: StdinSource;
}

type Found = { exit: number } | { group: CommandGroup; cmd: Command };

/** The command `argv` names, or the exit code after printing help or the version. */
function findCommand(argv: string[], stdout: (s: string) => void): Found {
  const [groupName, maybeCommand] = argv;
  if (groupName === undefined || groupName === "--help" || groupName === "-h" || groupName === "help") {
    stdout(rootHelp());
    return { exit: groupName === undefined ? 2 : 0 };
  }
  if (groupName === "--version" || groupName === "-v") {
    stdout(version());
    return { exit: 0 };
  }
  const group = GROUPS.find((g) => g.name === groupName);
  if (!group) throw new UsageError(`unknown command ${shown(groupName)}; run \`edgekv --help\``);
  const cmd = group.commands.find((c) => c.name === maybeCommand);
  if (cmd) return { group, cmd };
  if (maybeCommand === undefined || maybeCommand === "--help" || maybeCommand === "-h") {
    stdout(groupHelp(group));
    return { exit: maybeCommand === undefined ? 2 : 0 };
  }
  throw new UsageError(`unknown command ${shown(`${group.name} ${maybeCommand}`)}; run \`edgekv ${group.name} --help\``);
}

/** The command's options and positionals, checked; usage errors never quote what might be a secret. */
function parseCommandArgs(argv: string[], cmd: Command): { values: ArgValues; positionals: string[] } {
  // parseArgs quotes an unknown option whole; one that is no option name may be a pasted secret.
  const end = argv.indexOf("--");
  for (const arg of argv.slice(2, end < 0 ? undefined : end)) {
    if (arg.startsWith("-") && arg !== "-" && !OPTION_NAME.test(arg.split("=")[0]!)) {
      throw new UsageError("an argument starting with - is not an option name (not shown, in case it is a secret)");
    }
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv.slice(2), options: { ...GLOBAL_OPTIONS, ...cmd.options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message.split("\n")[0]!.replace(/\. To specify.*$/, "") : String(err));
  }
  const values = parsed.values as ArgValues;
  if (values.help === true) return { values, positionals: parsed.positionals };
  if (values.local === true && values.remote === true) throw new UsageError("--local and --remote exclude each other");
  const bounds = cmd.positionals ?? { min: 0, max: 0 };
  if (parsed.positionals.length < bounds.min || parsed.positionals.length > bounds.max) throw new UsageError(`usage: edgekv ${cmd.usage}`);
  return { values, positionals: parsed.positionals };
}

/** What a command runs with: global options, output, KV access, clock, environment and stdin. */
function buildContext(
  values: ArgValues,
  io: MainIo,
  env: Record<string, string | undefined>,
  stdout: (s: string) => void,
  stderr: (s: string) => void,
): Context {
  const persistTo = (values["persist-to"] as string | undefined) ?? env.EDGEKV_PERSIST_TO;
  const configPath = resolve(io.cwd ?? process.cwd(), (values.config as string | undefined) ?? findConfig(io.cwd ?? process.cwd()));
  const global: GlobalOptions = {
    json: values.json === true,
    verbose: values.verbose === true,
    yes: values.yes === true,
    target: { remote: values.remote === true, persistTo, configPath },
  };
  return {
    global,
    isTTY: io.isTTY ?? Boolean(process.stderr.isTTY),
    out: stdout,
    err: stderr,
    emit: (result, human) => stdout(global.json ? JSON.stringify(result, null, 2) : human()),
    withKv: async (workerEnv: WorkerEnv, fn) => {
      if (!global.target.remote && !existsSync(configPath)) throw new CliError(`no wrangler.toml at ${configPath} (use --config FILE)`);
      const handle = await openKv(workerEnv, global.target);
      try {
        return await fn(handle.kv, handle.where);
      } finally {
        await handle.dispose();
      }
    },
    now: io.now ?? Date.now,
    env,
    stdin: io.stdin ?? processStdin(),
  };
}

/** One line on stderr for any error, the stack only with --verbose; returns the exit code. */
function reportError(err: unknown, stderr: (s: string) => void, verbose: boolean): number {
  if (err instanceof CliError) {
    stderr(`edgekv: ${err.message}`);
    if (err instanceof UsageError && !err.message.startsWith("usage:")) stderr("run with --help for usage");
    if (verbose && err.stack) stderr(err.stack);
    return err.exitCode;
  }
  if (err instanceof EdgeKvError) {
    stderr(`edgekv: ${err.message}`);
    if (verbose && err.stack) stderr(err.stack);
    return 1;
  }
  const message = err instanceof Error ? err.message : String(err);
  stderr(`edgekv: unexpected error: ${message}${verbose ? "" : " (run with --verbose for details)"}`);
  if (verbose && err instanceof Error && err.stack) stderr(err.stack);
  return 1;
}

/**
 * Runs the CLI with `argv` (without `node` and the script) and returns the exit code.
 * @example process.exitCode = await main(["rollout", "status", "--json"]);
 */
export async function main(argv: string[], io: MainIo = {}): Promise<number> {
  const stdout = io.stdout ?? ((s: string) => process.stdout.write(`${s}\n`));
  const stderr = io.stderr ?? ((s: string) => process.stderr.write(`${s}\n`));
  const env = io.env ?? process.env;
  let verbose = argv.includes("--verbose");
  try {
    // First: a token on argv is already exposed (ps, history); refuse it before any message could repeat it.
    if (argv.some(argHoldsToken)) throw new UsageError(TOKEN_ON_ARGV_MESSAGE);
    const found = findCommand(argv, stdout);
    if ("exit" in found) return found.exit;
    const { values, positionals } = parseCommandArgs(argv, found.cmd);
    if (values.help === true) {
      stdout(commandHelp(found.group, found.cmd));
      return 0;
    }
    verbose = values.verbose === true;
    await found.cmd.run(buildContext(values, io, env, stdout, stderr), { positionals, values });
    return 0;
  } catch (err) {
    return reportError(err, stderr, verbose);
  }
}
