/**
 * Confirmation before a destructive command: asked on a terminal (y/N, default no);
 * without one the command refuses unless --yes was given, so a script never
 * changes anything it did not ask for explicitly.
 */
import { createInterface } from "node:readline/promises";
import { CliError, ConfirmationError } from "./errors.ts";
import { safeText } from "./output.ts";

/** Asks one question on the terminal and returns the answer. */
export type Ask = (question: string) => Promise<string>;

export interface ConfirmOptions {
  /** --yes: go ahead without asking. */
  yes: boolean;
  /** The flag that goes ahead without a terminal (default --yes). */
  flag?: string;
  /** A person can answer: stdin and stderr are terminals. */
  interactive: boolean;
  ask: Ask;
}

/**
 * Resolves when `action` may go ahead; throws (nothing changed) otherwise.
 * @example await confirmAction("revoke every token of alice", { yes: false, interactive: true, ask })
 */
export async function confirmAction(action: string, options: ConfirmOptions): Promise<void> {
  if (options.yes) return;
  if (!options.interactive) {
    throw new ConfirmationError(`not confirmed: ${action}; there is no terminal to ask on, so add ${options.flag ?? "--yes"} to go ahead`);
  }
  // The action names keys and versions: shown through the output filter like every other line.
  const answer = (await options.ask(`${safeText(action)}? [y/N] `)).trim().toLowerCase();
  if (answer !== "y" && answer !== "yes") throw new CliError("aborted; nothing changed", 1, "aborted");
}

/** The process's terminal: the question on stderr (stdout stays for results), the answer from stdin. */
export const terminalAsk: Ask = async (question) => {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
};
