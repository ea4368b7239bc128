import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { main } from "../../../cli/main.ts";
import { textStdin, type StdinSource } from "../../../cli/secret-input.ts";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const BIN = fileURLToPath(new URL("../../../cli/bin.mjs", import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout exactly as written (binary values); only from `runCli`. */
  stdoutBytes?: Buffer;
}

/**
 * Runs the real `edgekv` binary in a child process (what a user runs).
 * @example const r = await runCli(["kv", "get", "k", "--env", "site", "--persist-to", dir]);
 */
export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string>; input?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({ code: code ?? -1, stdout: stdoutBytes.toString(), stderr, stdoutBytes });
    });
    child.stdin.end(options.input ?? "");
  });
}

/**
 * Runs the CLI in-process (faster; same code path as the binary after argv parsing).
 * stdin is an empty pipe unless `input` (a pipe holding it) or `stdin` is given; `env` is added to process.env.
 * @example const r = await cli(["rollout", "status", "--json", "--persist-to", dir]);
 */
export async function cli(
  args: string[],
  options: { now?: () => number; cwd?: string; input?: string; stdin?: StdinSource; env?: Record<string, string | undefined> } = {},
): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const code = await main(args, {
    stdout: (s) => (stdout += `${s}\n`),
    stderr: (s) => (stderr += `${s}\n`),
    isTTY: false,
    cwd: options.cwd ?? ROOT,
    stdin: options.stdin ?? textStdin(options.input ?? ""),
    env: { ...process.env, ...options.env },
    ...(options.now ? { now: options.now } : {}),
  });
  return { code, stdout, stderr };
}
