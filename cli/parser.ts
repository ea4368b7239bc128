/**
 * The command line, parsed by yargs (what wrangler uses): help at every level,
 * "did you mean" for a mistyped command, and shell completion (`edgekv completion`).
 * The commands themselves are the declarative tables in cli/commands/; this file
 * turns them into yargs commands and hands back the one command to run.
 *
 * Anything the user typed may be a pasted secret, so messages repeat a word only
 * when it looks like a command or an option name (argv holding a token is refused
 * earlier, in main.ts).
 */
import yargs, { type Argv } from "yargs";
import type { ArgValues, Command, CommandGroup, OptionSpec } from "./command.ts";
import { UsageError } from "./errors.ts";

export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  local: { type: "boolean", description: "use local state, as `wrangler dev` does (default)" },
  remote: { type: "boolean", description: "use the Cloudflare account (wrangler login or CLOUDFLARE_API_TOKEN)" },
  "persist-to": { type: "string", description: "DIR: local state folder, as `wrangler dev --persist-to` (default .wrangler/state; env EDGEKV_PERSIST_TO)" },
  config: { type: "string", description: "FILE: wrangler config (default: wrangler.json, .jsonc or .toml, searched upwards)" },
  json: { type: "boolean", description: "machine-readable output on stdout; errors too, as {ok:false,error:{code,message}}" },
  verbose: { type: "boolean", description: "stack traces on errors" },
  yes: { type: "boolean", short: "y", description: "do not ask before destructive commands (required without a terminal)" },
};

/** What an option name looks like (edgekv's longest is 16 characters; a strong secret is >= 32). */
const OPTION_NAME = /^--?[A-Za-z][A-Za-z0-9-]{0,23}$/;
/** A negative number is an argument, not an option (`rollout set -5` is refused by range, not as an unknown option). */
const NEGATIVE_NUMBER = /^-\d+(\.\d+)?%?$/;

/** A word of the command line, quoted when it looks like a (mistyped) command, else withheld: it may be a pasted secret. */
const shown = (words: string) => (/^[a-z][a-z -]{0,23}$/.test(words) ? `"${words}"` : "(not shown)");

export type Parsed =
  | { kind: "run"; group: CommandGroup; cmd: Command; values: ArgValues; positionals: string[] }
  /** Help, the version or a completion script: print `text` (stdout when exit is 0, else stderr). */
  | { kind: "output"; text: string; exit: number };

/** Thrown by yargs' fail hook, turned into a UsageError by `parseArgv`. */
class YargsFailure extends Error {}

const EPILOGUE =
  "Exit codes: 0 ok, 1 failure, 2 usage or invalid input (nothing was changed).\n" +
  "Destructive commands ask first on a terminal; without one they need --yes.";

/** Refuses, before yargs sees them, arguments that start with "-" but are no option name (maybe a secret). */
function checkOptionShapes(argv: readonly string[]): void {
  const end = argv.indexOf("--");
  for (const arg of argv.slice(0, end < 0 ? undefined : end)) {
    if (!arg.startsWith("-") || arg === "-" || NEGATIVE_NUMBER.test(arg)) continue;
    if (!OPTION_NAME.test(arg.split("=")[0]!)) {
      throw new UsageError("an argument starting with - is not an option name (not shown, in case it is a secret)");
    }
  }
}

function addOptions(y: Argv, options: Record<string, OptionSpec>, global: boolean): Argv {
  for (const [name, o] of Object.entries(options)) {
    y.option(name, {
      // yargs shows "[number]"; the value used is still the one typed (`typedValue`), read by `numberArg`.
      type: o.type,
      describe: o.description,
      global,
      hidden: o.hidden === true,
      ...(o.short ? { alias: o.short } : {}),
      ...(o.type === "boolean" ? {} : { requiresArg: true }),
    });
  }
  return y;
}

/** The argument name an option's description starts with ("N: ..." -> "N"), else VALUE. */
const argName = (o: OptionSpec) => /^([A-Z][A-Z_|]*):/.exec(o.description)?.[1] ?? "VALUE";

/**
 * The command's synopsis with every option it has: those its `usage` does not name are added
 * as `[--name ARG]`, so the usage line never hides one.
 */
export function fullUsage(cmd: Command): string {
  const missing = Object.entries(cmd.options ?? {}).filter(([name, o]) => !o.hidden && !new RegExp(`--${name}(?![\\w-])`).test(cmd.usage));
  const extra = missing.map(([name, o]) => (o.type === "boolean" ? `[--${name}]` : `[--${name} ${argName(o)}]`));
  // An example in parentheses stays last.
  const m = /^(.*?)(\s+\(e\.g\..*\))?$/.exec(cmd.usage)!;
  return [m[1], ...extra].join(" ") + (m[2] ?? "");
}

/**
 * Help paragraphs as flowing text: a line break inside a sentence becomes a space (yargs wraps to
 * the terminal), while a blank line, an indented example or a list item keeps its own line.
 */
export function reflow(text: string): string {
  return text.replace(/\n(?![\n ]|- )/g, (_m, offset: number) => (text[offset - 1] === "\n" ? "\n" : " "));
}

/** Edit distance counting a swap of two neighbours as one edit (optimal string alignment), for "did you mean". */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The known option closest to a mistyped one (a prefix, or at most 2 edits away), if any. */
function closestOption(typed: string, known: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const name of known) {
    if (name.length < 2) continue;
    const d = name.startsWith(typed) || typed.startsWith(name) ? 1 : distance(typed, name);
    if (d <= Math.min(2, Math.floor(name.length / 3)) && (!best || d < best.d)) best = { name, d };
  }
  return best?.name;
}

interface Matched {
  group?: CommandGroup;
  cmd?: Command;
  argv?: Record<string, unknown>;
}

function commandUsage(cmd: Command): string {
  return `Usage: $0 ${fullUsage(cmd)}\n\n${cmd.summary}${cmd.details ? `\n\n${reflow(cmd.details)}` : ""}`;
}

/** The yargs program for `groups`; `matched` records which command the arguments named. */
function program(groups: readonly CommandGroup[], version: string, matched: Matched): Argv {
  const root = yargs()
    .scriptName("edgekv")
    .usage("Usage: $0 <group> <command> [options]\n\nedgekv: data at the edge with Workers KV")
    // Values stay the strings typed (a key "007" stays "007"); a.b is a name, not a path.
    .parserConfiguration({ "parse-numbers": false, "parse-positional-numbers": false, "dot-notation": false, "camel-case-expansion": false })
    .recommendCommands()
    .help()
    .alias("help", "h")
    .version(version)
    .alias("version", "v")
    .epilogue(EPILOGUE)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new YargsFailure(msg);
    });
  addOptions(root, GLOBAL_OPTIONS, true).group([...Object.keys(GLOBAL_OPTIONS), "help", "version"], "Global options:");
  for (const group of groups) {
    root.command(
      group.name,
      group.summary,
      (g) => {
        g.usage(`Usage: $0 ${group.name} <command> [options]\n\n${group.summary}${group.details ? `\n\n${reflow(group.details)}` : ""}`);
        for (const cmd of group.commands) {
          g.command(
            cmd.name,
            cmd.summary,
            (c) => addOptions(c.usage(commandUsage(cmd)), cmd.options ?? {}, false),
            (argv) => {
              Object.assign(matched, { group, cmd, argv });
            },
          );
        }
        return g;
      },
      (argv) => {
        Object.assign(matched, { group, argv });
      },
    );
  }
  return root.completion("completion", "print a shell completion script (bash, zsh): edgekv completion >> ~/.bashrc");
}

/** The words that are not options, skipping the values of options that take one. */
function words(argv: readonly string[], groups: readonly CommandGroup[]): string[] {
  const takesValue = new Set<string>();
  for (const spec of [GLOBAL_OPTIONS, ...groups.flatMap((g) => g.commands.map((c) => c.options ?? {}))]) {
    for (const [name, o] of Object.entries(spec)) if (o.type !== "boolean") takesValue.add(`--${name}`);
  }
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") break;
    if (takesValue.has(a)) i++;
    else if (!a.startsWith("-") || NEGATIVE_NUMBER.test(a)) out.push(a);
  }
  return out;
}

/** An unknown command (with yargs' suggestion, when it has one). */
function unknownCommand(argv: readonly string[], groups: readonly CommandGroup[], suggestion?: string): UsageError {
  const [first = "", second = ""] = words(argv, groups);
  const group = groups.find((g) => g.name === first);
  const what = group ? `${group.name} ${second}` : first;
  const hint = suggestion ? ` (did you mean "${suggestion}"?)` : "";
  return new UsageError(`unknown command ${shown(what)}${hint}; run \`edgekv ${group ? `${group.name} ` : ""}--help\``);
}

/** Yargs' own failures, in edgekv's words. */
function fromYargs(err: unknown, argv: readonly string[], groups: readonly CommandGroup[]): never {
  const message = err instanceof Error ? err.message : String(err);
  const suggestion = /^Did you mean (.+)\?$/.exec(message)?.[1];
  if (suggestion !== undefined) throw unknownCommand(argv, groups, suggestion);
  const missing = /^Not enough arguments following: (.+)$/.exec(message)?.[1];
  if (missing !== undefined) throw new UsageError(`--${missing} takes a value`);
  if (err instanceof YargsFailure) throw new UsageError(message.split("\n")[0]!);
  throw err;
}

/** The last value typed for `--name` (`--name V` or `--name=V`), before any `--`. */
function typedValue(tokens: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < tokens.length && tokens[i] !== "--"; i++) {
    if (tokens[i] === `--${name}`) value = tokens[++i];
    else if (tokens[i]!.startsWith(`--${name}=`)) value = tokens[i]!.slice(name.length + 3);
  }
  return value;
}

/**
 * Flag values of one command: booleans as booleans, a repeatable flag as a list, else the last value
 * given; a number as typed (yargs would make "20%" NaN), so `numberArg` checks it and says what was wrong.
 */
function valuesOf(argv: Record<string, unknown>, specs: Record<string, OptionSpec>, tokens: readonly string[]): ArgValues {
  const values: ArgValues = {};
  for (const [name, spec] of Object.entries(specs)) {
    const raw = argv[name];
    if (raw === undefined) continue;
    const list = (Array.isArray(raw) ? raw : [raw]) as unknown[];
    if (spec.type === "boolean") values[name] = list.at(-1) === true;
    else if (spec.type === "number") values[name] = typedValue(tokens, name) ?? String(list.at(-1));
    else values[name] = spec.multiple ? list.map(String) : String(list.at(-1));
  }
  return values;
}

/** Refuses an option the command does not have, named as typed (its shape was checked: no secret). */
function checkKnown(argv: Record<string, unknown>, specs: Record<string, OptionSpec>, cmd: Command, group: CommandGroup): void {
  const known = new Set(["_", "$0", "help", "h", "version", "v"]);
  for (const [name, o] of Object.entries(specs)) {
    known.add(name);
    if (o.short) known.add(o.short);
  }
  const unknown = Object.keys(argv).find((k) => !known.has(k));
  if (unknown !== undefined) {
    const near = closestOption(
      unknown,
      Object.entries(specs)
        .filter(([, o]) => !o.hidden)
        .map(([name]) => name),
    );
    const hint = near ? ` (did you mean --${near}?)` : "";
    throw new UsageError(`unknown option ${unknown.length === 1 ? "-" : "--"}${unknown} for \`edgekv ${group.name} ${cmd.name}\`${hint}`);
  }
}

/**
 * Parses `argv` (without node and the script) into the command to run, or the text to print.
 * @example const p = await parseArgv(["kv", "get", "k", "--env", "site"], GROUPS, "0.1.0"); // { kind: "run", ... }
 */
export async function parseArgv(argv: readonly string[], groups: readonly CommandGroup[], version: string): Promise<Parsed> {
  checkOptionShapes(argv);
  const matched: Matched = {};
  const y = program(groups, version, matched);
  let result: { argv: Record<string, unknown>; output: string };
  try {
    result = await new Promise((resolve, reject) =>
      y.parse([...argv], {}, (err, parsed, output) => (err ? reject(err) : resolve({ argv: parsed as Record<string, unknown>, output }))),
    );
  } catch (err) {
    fromYargs(err, argv, groups);
  }
  if (result.output) return { kind: "output", text: result.output.replace(/\n$/, ""), exit: 0 };
  const { group, cmd } = matched;
  if (!cmd) {
    const positional = ((matched.argv ?? result.argv)._ as unknown[] | undefined) ?? [];
    if (positional.length > (group ? 1 : 0)) throw unknownCommand(argv, groups);
    return { kind: "output", text: await y.getHelp(), exit: 2 };
  }
  const parsed = matched.argv ?? {};
  const specs = { ...GLOBAL_OPTIONS, ...cmd.options };
  checkKnown(parsed, specs, cmd, group!);
  const positionals = ((parsed._ as unknown[] | undefined) ?? []).slice(2).map(String);
  return { kind: "run", group: group!, cmd, values: valuesOf(parsed, specs, argv), positionals };
}

/**
 * Answers the completion script's `--get-yargs-completions` request on stdout (yargs prints it).
 * @example await printCompletions(["--get-yargs-completions", "edgekv", "kv", ""], GROUPS, "0.1.0")
 */
export async function printCompletions(argv: readonly string[], groups: readonly CommandGroup[], version: string): Promise<void> {
  await program(groups, version, {}).parseAsync([...argv]);
}
