import type { KvBinding } from "../shared/kv/index.ts";
import { InputError, UsageError } from "./errors.ts";
import type { Style } from "./output.ts";
import type { StdinSource } from "./secret-input.ts";
import type { KvTarget, WorkerEnv } from "./targets.ts";

/** One flag of a command, plus help text. */
export interface OptionSpec {
  /** "number": takes a value, shown as [number] and read with `numberArg` (which names the flag in its errors). */
  type: "string" | "number" | "boolean";
  short?: string;
  /** Repeatable: the values come as a list. */
  multiple?: boolean;
  /** Shown in `--help`; name the argument in caps, e.g. "SECONDS: lifetime (default 3600)". */
  description: string;
  /** Left out of `--help` (kept only to refuse it with a reason). */
  hidden?: boolean;
}

export type ArgValues = Record<string, string | boolean | string[] | undefined>;

export interface GlobalOptions {
  json: boolean;
  verbose: boolean;
  yes: boolean;
  target: KvTarget;
}

/** A confirmation that --yes does not give: only `flag` (e.g. --allow-decrease) or a person at the terminal. */
export interface ConfirmWith {
  flag: string;
}

/** What a command gets: parsed flags, output, and the KV target. */
export interface Context {
  readonly global: GlobalOptions;
  readonly isTTY: boolean;
  /** Writes a line to stdout. */
  out(line: string): void;
  /** Writes bytes to stdout exactly as given (a binary value). */
  outBytes(data: Uint8Array): void;
  /** True when stdout is a terminal (a person reads it, not a pipe or a file). */
  readonly stdoutIsTTY: boolean;
  /** Writes a line to stderr (progress, warnings), so stdout stays parseable. */
  err(line: string): void;
  /** Writes text to stderr as is (a progress bar redrawn in place). */
  errRaw(text: string): void;
  /** Colour for stdout's human output (none when it is not a terminal, or with NO_COLOR). */
  readonly style: Style;
  /** Prints `result` as JSON with `--json`, else the human form. */
  emit(result: unknown, human: () => string): void;
  /**
   * Resolves when a destructive `action` may go ahead: --yes, or "y" typed on the terminal.
   * Without a terminal and without --yes it throws (exit 2), before anything changed.
   * With `options.flag`, --yes does not count: only that flag (checked by the caller) or a terminal.
   */
  confirm(action: string, options?: ConfirmWith): Promise<void>;
  /** "local (DIR)" or "remote": where `withKv` would act, without opening anything. */
  describeTarget(): string;
  /** Opens an environment's KV namespace for the duration of `fn`. */
  withKv<T>(env: WorkerEnv, fn: (kv: KvBinding, where: string) => Promise<T>): Promise<T>;
  /** Epoch ms; injectable for tests. */
  now(): number;
  /** Environment variables (process.env unless injected): where secrets such as OVERRIDE_SECRET come from. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Standard input, for secrets that must not be on the command line (cli/secret-input.ts). */
  readonly stdin: StdinSource;
  /**
   * What to tell the user (stderr) if the process is interrupted (Ctrl-C, SIGTERM, SIGHUP) from now on,
   * read at that moment; undefined says only "interrupted".
   */
  onInterrupt(explain: (() => string | undefined) | undefined): void;
}

export interface Command {
  name: string;
  summary: string;
  /** Synopsis after `edgekv`, e.g. "kv get KEY --env ENV". */
  usage: string;
  /** Extra help paragraphs. */
  details?: string;
  options?: Record<string, OptionSpec>;
  /** Bounds on positional arguments. */
  positionals?: { min: number; max: number };
  run(ctx: Context, args: { positionals: string[]; values: ArgValues }): Promise<void>;
}

export interface CommandGroup {
  name: string;
  summary: string;
  details?: string;
  commands: Command[];
}

/** A string flag, or `fallback`. */
export function stringArg(values: ArgValues, name: string): string | undefined;
export function stringArg(values: ArgValues, name: string, fallback: string): string;
export function stringArg(values: ArgValues, name: string, fallback?: string): string | undefined {
  const v = values[name];
  if (v === undefined) return fallback;
  // Given twice: the last one counts, as with most CLIs.
  const last = Array.isArray(v) ? v.at(-1) : v;
  if (typeof last !== "string") throw new UsageError(`--${name} takes a value`);
  return last;
}

/** A repeatable string flag as a list. */
export function listArg(values: ArgValues, name: string): string[] {
  const v = values[name];
  if (v === undefined) return [];
  if (Array.isArray(v)) return v;
  if (typeof v === "string") return [v];
  throw new UsageError(`--${name} takes a value`);
}

/** A numeric flag checked against bounds, with a message that names the flag (a range error is invalid input, exit 2). */
export function numberArg(values: ArgValues, name: string, bounds: { min?: number; max?: number; integer?: boolean } = {}): number | undefined {
  const raw = stringArg(values, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${raw}"`);
  if (bounds.integer && !Number.isInteger(n)) throw new InputError(`--${name} must be a whole number, got ${raw}`);
  if (bounds.min !== undefined && n < bounds.min) throw new InputError(`--${name} must be at least ${bounds.min}, got ${raw}`);
  if (bounds.max !== undefined && n > bounds.max) throw new InputError(`--${name} must be at most ${bounds.max}, got ${raw}`);
  return n;
}

/** A boolean flag. */
export function flagArg(values: ArgValues, name: string): boolean {
  return values[name] === true;
}
