import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { EdgeKvError, KvLimitError, KvRateLimitError, KvUnavailableError, KvValidationError } from "../shared/kv/index.ts";
import type { ArgValues, CommandGroup, Context, GlobalOptions } from "./command.ts";
import { kvGroup } from "./commands/kv.ts";
import { rolloutGroup } from "./commands/rollout.ts";
import { siteGroup } from "./commands/site.ts";
import { tokenGroup } from "./commands/token.ts";
import { findWranglerConfig, CONFIG_NAMES } from "./config.ts";
import { confirmAction, terminalAsk, type Ask } from "./confirm.ts";
import { CliError, UsageError } from "./errors.ts";
import { guardedWriter, markedStyle, OutputClosed, plain, registerSecret, safeText, styleFor, type Style } from "./output.ts";
import { parseArgv, printCompletions } from "./parser.ts";
import { argHoldsToken, processStdin, TOKEN_ON_ARGV_MESSAGE, type StdinSource } from "./secret-input.ts";
import { redirectStrayStdout } from "./stdout.ts";
import { localStatePath, openKv, type KvTarget } from "./targets.ts";

export { GLOBAL_OPTIONS } from "./parser.ts";
export const GROUPS: CommandGroup[] = [siteGroup, rolloutGroup, tokenGroup, kvGroup];

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

export interface MainIo {
  /** A line to stdout (the newline is added). */
  stdout?: (s: string) => void;
  /** Bytes to stdout as they are (a binary value); default: decoded into `stdout` when that is injected. */
  stdoutBytes?: (data: Uint8Array) => void;
  /** A line to stderr (the newline is added). */
  stderr?: (s: string) => void;
  /** stderr is a terminal: progress is drawn as a bar (default: the process's stderr). */
  isTTY?: boolean;
  /** stdout is a terminal (default: the process's stdout; false when `stdout` is injected). */
  stdoutIsTTY?: boolean;
  /** A person can answer a confirmation (default: the process's stdin and stderr are terminals, neither injected). */
  interactive?: boolean;
  /** How a confirmation is asked (default: on the terminal). */
  ask?: Ask;
  now?: () => number;
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Standard input (default: the process's), read only by commands that take a piped secret. */
  stdin?: StdinSource;
  /** Handle SIGINT, SIGTERM and SIGHUP: say what state things are in, exit 128+n (default: when stdout and stderr are the process's). */
  signals?: boolean;
}

const SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;

/**
 * While a command runs, a signal ends it with one line on stderr saying what it means for the
 * data (the command's `onInterrupt`), then exit 128+n as a shell expects (130 for Ctrl-C).
 * Returns the function that removes the handlers.
 */
function handleSignals(s: Sinks, explain: () => (() => string | undefined) | undefined): () => void {
  const handlers = Object.entries(SIGNALS).map(([name, n]) => {
    const handler = () => {
      let why: string | undefined;
      try {
        why = explain()?.();
      } catch {
        why = undefined;
      }
      s.err(`${s.errStyle("yellow", "edgekv:")} interrupted (${name})${why ? `; ${why}` : ""}`);
      process.exit(128 + n);
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  return () => {
    for (const [name, handler] of handlers) process.off(name, handler);
  };
}

/**
 * Where output goes: injected functions (tests, scripts) or the process's streams, guarded
 * against EPIPE. Every line passes `safeText` here, so no command can print a control
 * character or a secret it did not mean to: `out` and `errText` keep the layout (newlines,
 * tabs), `err` and `errRaw` are one line each. Only `bytes` (a raw value to a pipe or
 * file) is written as it is.
 */
interface Sinks {
  out(line: string): void;
  bytes(data: Uint8Array): void;
  err(line: string): void;
  /** Several lines to stderr (help on a usage error, a stack with --verbose). */
  errText(text: string): void;
  errRaw(text: string): void;
  outStyle: Style;
  errStyle: Style;
  stdoutIsTTY: boolean;
}

function sinks(io: MainIo): Sinks {
  const stdout = io.stdout ? undefined : guardedWriter(process.stdout);
  const errStream = io.stderr ? undefined : guardedWriter(process.stderr);
  const rawOut = io.stdout ?? ((s: string) => stdout!.write(`${s}\n`));
  const rawErr = io.stderr ?? ((s: string) => errStream!.write(`${s}\n`));
  // Only the CLI's own colour codes survive the filter, and only where the stream shows colour.
  const outStyle = io.stdout ? plain : markedStyle(styleFor(process.stdout));
  const errStyle = io.stderr ? plain : markedStyle(styleFor(process.stderr));
  const out = (s: string) => rawOut(safeText(s, { multiline: true }));
  return {
    out,
    bytes: io.stdoutBytes ?? (stdout ? (d) => stdout.write(d) : (d) => out(new TextDecoder().decode(d).replace(/\n$/, ""))),
    err: (s) => rawErr(safeText(s)),
    errText: (s) => rawErr(safeText(s, { multiline: true })),
    // A bar is redrawn in place: its leading CR and final newline are the CLI's, the rest one line.
    errRaw: (t) => {
      const m = /^(\r?)([\s\S]*?)(\n?)$/.exec(t)!;
      const text = `${m[1]}${safeText(m[2]!)}${m[3]}`;
      // Injected stderr is line-based: a redrawn bar becomes one line per redraw.
      if (io.stderr) text.trim() && io.stderr(text.replace(/^\r/, "").trimEnd());
      else errStream!.write(text);
    },
    outStyle,
    errStyle,
    stdoutIsTTY: io.stdoutIsTTY ?? (io.stdout ? false : Boolean(process.stdout.isTTY)),
  };
}

/** Where KV is, from the flags: nothing is opened or even looked for until a command needs it. */
function targetOf(values: ArgValues, cwd: string, env: Record<string, string | undefined>): KvTarget & { found: boolean } {
  const configPath = findWranglerConfig(cwd, values.config as string | undefined);
  return {
    remote: values.remote === true,
    persistTo: (values["persist-to"] as string | undefined) ?? env.EDGEKV_PERSIST_TO,
    configPath: configPath ?? resolve(cwd, CONFIG_NAMES[2]),
    found: configPath !== undefined && existsSync(configPath),
  };
}

/** What a command runs with: global options, output, KV access, clock, environment and stdin. */
function buildContext(values: ArgValues, io: MainIo, env: Record<string, string | undefined>, s: Sinks, onInterrupt: Context["onInterrupt"]): Context {
  if (values.local === true && values.remote === true) throw new UsageError("--local and --remote exclude each other");
  const cwd = io.cwd ?? process.cwd();
  const { found, ...target } = targetOf(values, cwd, env);
  const global: GlobalOptions = { json: values.json === true, verbose: values.verbose === true, yes: values.yes === true, target };
  const stdin = io.stdin ?? processStdin();
  const where = () => (target.remote ? "the Cloudflare account" : `local state ${localStatePath(target)}`);
  return {
    global,
    isTTY: io.isTTY ?? Boolean(process.stderr.isTTY),
    out: s.out,
    outBytes: s.bytes,
    stdoutIsTTY: s.stdoutIsTTY,
    err: s.err,
    errRaw: s.errRaw,
    style: s.outStyle,
    emit: (result, human) => s.out(global.json ? JSON.stringify(result, null, 2) : human()),
    confirm: (action, options) =>
      confirmAction(`${action} (${where()})`, {
        yes: options ? false : global.yes,
        ...(options ? { flag: options.flag } : {}),
        // Only the process's own terminal: a caller that injects stdin or stderr (tooling, tests) is never asked.
        interactive: io.interactive ?? (!io.stdin && !io.stderr && stdin.isTTY && Boolean(process.stderr.isTTY)),
        ask: io.ask ?? terminalAsk,
      }),
    describeTarget: where,
    withKv: async (workerEnv, fn) => {
      if (!found) {
        throw new CliError(
          values.config === undefined
            ? `no ${CONFIG_NAMES.join(", ")} in ${cwd} or any folder above (run edgekv in your project or pass --config FILE)`
            : `no wrangler config at ${target.configPath}`,
        );
      }
      const handle = await openKv(workerEnv, target, env);
      try {
        return await fn(handle.kv, handle.where);
      } finally {
        await handle.dispose();
      }
    },
    now: io.now ?? Date.now,
    env,
    stdin,
    onInterrupt,
  };
}

/** An error as the user sees it: a stable code, an exit code and one line without internal key names. */
export function describeError(err: unknown): { code: string; exit: number; message: string } {
  if (err instanceof CliError) return { code: err.code, exit: err.exitCode, message: err.message };
  if (err instanceof KvLimitError) return { code: "kv_limit", exit: 2, message: err.message };
  if (err instanceof KvValidationError) {
    const detail = err.issues
      .slice(0, 3)
      .map((i) => (i.path ? `${i.path}: ${i.message}` : i.message))
      .join("; ");
    if (err.phase === "write") return { code: "invalid_input", exit: 2, message: `invalid ${err.target}: ${detail}` };
    return { code: "kv_invalid_data", exit: 1, message: `a stored ${err.target} is invalid: ${detail}` };
  }
  if (err instanceof KvRateLimitError) {
    return { code: "kv_rate_limited", exit: 1, message: `KV refused the write ${err.attempts} time(s) (429: one write per second per key); try again` };
  }
  if (err instanceof KvUnavailableError) {
    const why = err.cause instanceof Error ? err.cause.message : String(err.cause);
    return { code: "kv_unavailable", exit: 1, message: `KV ${err.operation} failed: ${why.split("\n")[0]}` };
  }
  if (err instanceof EdgeKvError) return { code: `kv_${err.code}`, exit: 1, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { code: "internal", exit: 1, message: `unexpected error: ${message.split("\n")[0]}` };
}

/** One line on stderr (or one JSON object on stdout with --json), the stack only with --verbose; returns the exit code. */
function reportError(err: unknown, s: Sinks, options: { json: boolean; verbose: boolean }): number {
  if (err instanceof OutputClosed) return 0;
  const { code, exit, message } = describeError(err);
  if (options.json) s.out(JSON.stringify({ ok: false, error: { code, message, exit } }));
  else {
    const internal = code === "internal" && !options.verbose ? " (run with --verbose for details)" : "";
    s.err(`${s.errStyle("red", "edgekv:")} ${message}${internal}`);
    if (err instanceof UsageError && !message.startsWith("usage:")) s.err("run with --help for usage");
  }
  // The frames only: the message was printed above, on one line.
  if (options.verbose && err instanceof Error && err.stack)
    s.errText(
      err.stack
        .split("\n")
        .filter((l) => /^\s+at /.test(l))
        .join("\n"),
    );
  return exit;
}

/** `--json` or `--verbose` before any `--`. */
const flagGiven = (argv: readonly string[], flag: string) => {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).includes(flag);
};

/**
 * Runs the CLI with `argv` (without `node` and the script) and returns the exit code.
 * @example process.exitCode = await main(["rollout", "status", "--json"]);
 */
export async function main(argv: string[], io: MainIo = {}): Promise<number> {
  const s = sinks(io);
  // After sinks(): the command's own writer keeps the real stdout; anything else printed there goes to stderr.
  const restoreStdout = io.stdout ? () => {} : redirectStrayStdout();
  const env = io.env ?? process.env;
  let json = flagGiven(argv, "--json");
  let verbose = flagGiven(argv, "--verbose");
  // Known before anything can print: a message, an answer or a value that holds the token shows [redacted].
  registerSecret(env.CLOUDFLARE_API_TOKEN?.trim());
  try {
    // First: a token on argv is already exposed (ps, history); refuse it before any message could repeat it.
    // Nothing else of argv is read, --json included: the refusal is always one line on stderr.
    if (argv.some(argHoldsToken)) {
      json = false;
      throw new UsageError(TOKEN_ON_ARGV_MESSAGE);
    }
    if (argv[0] === "--get-yargs-completions") {
      // yargs prints the completions itself: they are this command's output.
      restoreStdout();
      await printCompletions(argv, GROUPS, version());
      return 0;
    }
    const parsed = await parseArgv(argv, GROUPS, version());
    if (parsed.kind === "output") {
      (parsed.exit === 0 ? s.out : s.errText)(parsed.text);
      return parsed.exit;
    }
    json = parsed.values.json === true;
    verbose = parsed.values.verbose === true;
    const bounds = parsed.cmd.positionals ?? { min: 0, max: 0 };
    const count = parsed.positionals.length;
    if (count < bounds.min || count > bounds.max) throw new UsageError(`usage: edgekv ${parsed.cmd.usage}`);
    let explain: (() => string | undefined) | undefined;
    const stopSignals = (io.signals ?? (!io.stdout && !io.stderr)) ? handleSignals(s, () => explain) : () => {};
    try {
      const ctx = buildContext(parsed.values, io, env, s, (fn) => {
        explain = fn;
      });
      await parsed.cmd.run(ctx, { positionals: parsed.positionals, values: parsed.values });
    } finally {
      stopSignals();
    }
    return 0;
  } catch (err) {
    return reportError(err, s, { json, verbose });
  } finally {
    restoreStdout();
  }
}
