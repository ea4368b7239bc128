/**
 * The API token `--remote` sends, in wrangler's order: `CLOUDFLARE_API_TOKEN`, else what
 * `wrangler auth token --json` prints (an API token, or the OAuth token of `wrangler
 * login`, refreshed by wrangler when needed). The token is read from the child's stdout
 * and kept in memory only: never on a command line, in a URL, or in a message.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { CliError } from "../errors.ts";

/** How long `wrangler auth token` may take (an OAuth refresh is one round trip). */
export const WRANGLER_AUTH_TIMEOUT_MS = 30_000;
/** The most output we read from it. */
const MAX_OUTPUT_BYTES = 64 * 1024;

export const NO_CREDENTIALS =
  'no Cloudflare credentials: set CLOUDFLARE_API_TOKEN (a token with "Workers KV Storage: Edit" is enough) or run `npx wrangler login`';

export interface Credentials {
  token: string;
  /** Where it came from, for messages: never the token itself. */
  source: "CLOUDFLARE_API_TOKEN" | "wrangler auth token";
}

/** Path of wrangler's own entry script in node_modules (run with this Node, not a shell). */
export function wranglerBin(): string {
  const pkg = createRequire(import.meta.url).resolve("wrangler/package.json");
  const { bin } = JSON.parse(readFileSync(pkg, "utf8")) as { bin?: Record<string, string> };
  return join(dirname(pkg), bin?.wrangler ?? "bin/wrangler.js");
}

/** Runs `wrangler auth token --json`; stdout and stderr are captured, bounded, never echoed. */
function runWranglerAuthToken(cwd: string, env: Readonly<Record<string, string | undefined>>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [wranglerBin(), "auth", "token", "--json"], {
      cwd,
      env: { ...env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" } as unknown as NodeJS.ProcessEnv,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: WRANGLER_AUTH_TIMEOUT_MS,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      if (stdout.length < MAX_OUTPUT_BYTES) stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      if (stderr.length < MAX_OUTPUT_BYTES) stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The JSON object in wrangler's output (it may print notices around it). */
export function parseAuthTokenOutput(stdout: string): { type?: string; token?: string } | undefined {
  const start = stdout.indexOf("{");
  const end = stdout.lastIndexOf("}");
  if (start < 0 || end < start) return undefined;
  try {
    const parsed = JSON.parse(stdout.slice(start, end + 1)) as unknown;
    return parsed && typeof parsed === "object" ? (parsed as { type?: string; token?: string }) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The token to use.
 * @example const { token } = await resolveCredentials(process.env, dirname(configPath));
 */
export async function resolveCredentials(env: Readonly<Record<string, string | undefined>>, cwd: string): Promise<Credentials> {
  const fromEnv = env.CLOUDFLARE_API_TOKEN?.trim();
  if (fromEnv) return { token: fromEnv, source: "CLOUDFLARE_API_TOKEN" };
  let run: { code: number; stdout: string; stderr: string };
  try {
    run = await runWranglerAuthToken(cwd, env);
  } catch (err) {
    throw new CliError(`${NO_CREDENTIALS} (cannot run wrangler: ${err instanceof Error ? err.message : String(err)})`);
  }
  const parsed = run.code === 0 ? parseAuthTokenOutput(run.stdout) : undefined;
  if (parsed?.type === "api_key") {
    throw new CliError("CLOUDFLARE_API_KEY and CLOUDFLARE_EMAIL (a Global API Key) are not used by edgekv; set CLOUDFLARE_API_TOKEN to an API token instead");
  }
  if (!parsed || typeof parsed.token !== "string" || parsed.token.trim() === "") {
    // wrangler's own reason ("Not logged in..."), first line only; it never holds a token when there is none.
    const why = `${run.stderr}\n${run.stdout}`
      .split("\n")
      .map((l) =>
        l
          .replace(/\u001b\[[0-9;]*m/g, "")
          .replace("[ERROR]", "")
          .replace(/^[^\p{L}]+/u, "")
          .trim(),
      )
      .find((l) => l.length > 0 && !l.startsWith("Logs were written") && !l.startsWith("{") && !/token/i.test(l.replace("wrangler login", "")));
    throw new CliError(`${NO_CREDENTIALS}${why ? ` (wrangler: ${why.slice(0, 200)})` : ""}`);
  }
  return { token: parsed.token.trim(), source: "wrangler auth token" };
}
