/**
 * Secrets reach the CLI on stdin or in the environment, never on the command
 * line: `ps` shows every process's argv to every user of the machine, and shell
 * history keeps it on disk. This module is the one place that reads them.
 */
import { isWellFormedToken, TOKEN_LENGTH, TOKEN_PREFIX } from "../workers/auth/token.ts";
import { generateHint, MIN_SECRET_BYTES } from "../shared/http/secrets.ts";
import { existsSync, readFileSync } from "node:fs";
import { parseEnv } from "node:util";
import { CliError, UsageError } from "./errors.ts";
import { registerSecret } from "./output.ts";

/** Most bytes read from stdin for one secret: a token is 34, a secret a few dozen; more is a mistake. */
export const MAX_STDIN_SECRET_BYTES = 8 * 1024;

/** Where a command reads a piped secret from; injectable so in-process callers and tests can feed it. */
export interface StdinSource {
  /** True when a person types at it: never read it implicitly (it would wait) nor echo what is typed. */
  readonly isTTY: boolean;
  /** The whole input as UTF-8; more than `maxBytes` is an error (and nothing of it is shown). */
  read(maxBytes: number): Promise<string>;
}

/** The process's own stdin. */
export function processStdin(): StdinSource {
  return {
    get isTTY() {
      return Boolean(process.stdin.isTTY);
    },
    async read(maxBytes) {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of process.stdin as AsyncIterable<Buffer | string>) {
        const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
        size += buf.length;
        if (size > maxBytes) throw new CliError(`stdin holds more than ${maxBytes} bytes; expected one secret`);
        chunks.push(buf);
      }
      return Buffer.concat(chunks).toString("utf8");
    },
  };
}

/**
 * A fixed stdin, as a pipe would give it (not a terminal).
 * @example await main(["token", "revoke", "--stdin"], { stdin: textStdin(token) });
 */
export function textStdin(text: string): StdinSource {
  return {
    isTTY: false,
    async read(maxBytes) {
      if (Buffer.byteLength(text) > maxBytes) throw new CliError(`stdin holds more than ${maxBytes} bytes; expected one secret`);
      return text;
    },
  };
}

/**
 * Reads one secret from stdin. Trailing whitespace (the newline of `echo`) is
 * dropped, as `wrangler secret put` drops it, so both see the same value.
 * A terminal is refused rather than read: what is typed there would show.
 * @example const secret = await readStdinSecret(ctx.stdin, "OVERRIDE_SECRET", "--secret-stdin < secret.txt");
 */
export async function readStdinSecret(stdin: StdinSource, what: string, example: string): Promise<string> {
  if (stdin.isTTY) throw new UsageError(`stdin is a terminal; pipe the ${what} in, e.g. \`${example}\``);
  const value = (await stdin.read(MAX_STDIN_SECRET_BYTES)).replace(/\s+$/, "");
  if (value === "") throw new UsageError(`no ${what} on stdin (it was empty)`);
  return value;
}

const TOKEN_LIKE = new RegExp(`${TOKEN_PREFIX}[0-9A-Za-z]{${TOKEN_LENGTH - TOKEN_PREFIX.length}}`, "g");

/**
 * True when `arg` holds a real edgekv token (right shape and checksum), alone or
 * inside a longer value such as `--name=ekv_...`. A typo'd token passes; the
 * commands that take tokens refuse their positional arguments anyway.
 * @example argHoldsToken("--user=ekv_3fJ9...Q2x0aB") // true
 */
export function argHoldsToken(arg: string): boolean {
  for (const m of arg.matchAll(TOKEN_LIKE)) if (isWellFormedToken(m[0])) return true;
  return false;
}

/** The one-line refusal for a token on the command line; it never repeats the token. */
export const TOKEN_ON_ARGV_MESSAGE =
  "a token on the command line is kept by ps and shell history, so edgekv refuses it; " +
  "pipe it in (`edgekv token revoke --stdin < token.txt`) or name it by id or user (`token revoke --id ID` or `--user ID`, ids from `token list`)";

/** Which Worker secret a command signs with, and how its messages name it. */
export interface SigningSecretSpec {
  /** The variable, e.g. "OVERRIDE_SECRET". */
  name: string;
  /** Its wrangler environment, for the generate hint. */
  wranglerEnv: string;
  /** What the Worker does with a short one, e.g. "the splitter ignores overrides signed with it". */
  weakEffect: string;
  /** A command line that pipes it in, for the prompt and errors. */
  example: string;
  /**
   * Where `wrangler dev` reads the Worker's local secrets (`.dev.vars.<env>`, else `.dev.vars`, beside
   * the config): used last, for local state only (a deployed Worker's secret is not in that file).
   */
  devVars?: string[];
}

/** The first of `files` that exists, and `name` in it (dotenv syntax, as wrangler reads it). */
function fromDevVars(files: readonly string[], name: string): { file: string; value: string | undefined } | undefined {
  for (const file of files) {
    if (!existsSync(file)) continue;
    return { file, value: parseEnv(readFileSync(file, "utf8"))[name] };
  }
  return undefined;
}

/**
 * A Worker secret the CLI signs with (OVERRIDE_SECRET, PREVIEW_SECRET): from stdin
 * (with `--secret-stdin`, or piped while the variable is unset), the environment, or
 * (local state) the Worker's `.dev.vars.<env>` as `wrangler dev` reads it; never argv. One shorter than MIN_SECRET_BYTES is refused, as the Worker refuses it.
 * @example const s = await signingSecret(ctx.env, ctx.stdin, fromStdin, { name: "PREVIEW_SECRET", wranglerEnv: "site", ... });
 */
export async function signingSecret(env: Record<string, string | undefined>, stdin: StdinSource, fromStdin: boolean, spec: SigningSecretSpec): Promise<string> {
  const fromEnv = env[spec.name];
  let secret: string;
  if (fromStdin) secret = await readStdinSecret(stdin, spec.name, spec.example);
  else if (fromEnv) secret = fromEnv;
  else {
    // A pipe first (it is explicit), then the Worker's local secrets file, as `wrangler dev` reads it.
    const piped = stdin.isTTY ? "" : (await stdin.read(MAX_STDIN_SECRET_BYTES)).replace(/\s+$/, "");
    const dev = piped ? undefined : fromDevVars(spec.devVars ?? [], spec.name);
    if (piped) secret = piped;
    else if (dev?.value) secret = dev.value;
    else {
      const looked = spec.devVars?.length ? `; looked in the environment and in ${dev?.file ?? spec.devVars.join(" and ")}` : "";
      throw new UsageError(
        stdin.isTTY
          ? `set ${spec.name} in the environment or pipe it in with --secret-stdin${looked}`
          : `no ${spec.name} on stdin (it was empty)${looked}; set it in the environment or pipe it in`,
      );
    }
  }
  if (new TextEncoder().encode(secret).length < MIN_SECRET_BYTES) {
    throw new CliError(
      `${spec.name} is shorter than ${MIN_SECRET_BYTES} bytes, so ${spec.weakEffect}; generate one with: ${generateHint(spec.name, spec.wranglerEnv)}`,
    );
  }
  // What is signed with it may be printed (a signed link); the secret itself never is.
  registerSecret(secret);
  return secret;
}
