// The one way tooling (npm start, bench, soak) runs an edgekv command in-process against a local state
// folder: the same code path as `npx edgekv ... --persist-to DIR`, without a child process per command.
import { main as edgekv } from "../cli/main.ts";
import { ROOT } from "./wrangler-dev.ts";

export interface InProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `edgekv <args> --persist-to <persistTo>` from the repository root, capturing its output.
 * @example const { code, stdout } = await edgekvInProcess(["rollout", "status", "--json"], ".wrangler/state");
 */
export async function edgekvInProcess(args: string[], persistTo: string, options: { now?: () => number } = {}): Promise<InProcessResult> {
  let stdout = "";
  let stderr = "";
  const code = await edgekv([...args, "--persist-to", persistTo], {
    stdout: (s) => (stdout += `${s}\n`),
    stderr: (s) => (stderr += `${s}\n`),
    isTTY: false,
    cwd: ROOT,
    ...(options.now ? { now: options.now } : {}),
  });
  return { code, stdout, stderr };
}

/**
 * The same, for a command that must succeed: its stdout, or an Error naming the command, its exit code and stderr.
 * (edgekv never takes a secret as an argument, so the message holds none.)
 * @example const json = await edgekvOk(["token", "issue", "--user", "demo", "--json"], dir);
 */
export async function edgekvOk(args: string[], persistTo: string, options: { now?: () => number } = {}): Promise<string> {
  const { code, stdout, stderr } = await edgekvInProcess(args, persistTo, options);
  if (code !== 0) throw new Error(`edgekv ${args.join(" ")} failed (exit ${code}): ${stderr.trim()}`);
  return stdout;
}
