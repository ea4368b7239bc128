/**
 * stdout belongs to the command: `--json | jq`, `TOKEN=$(edgekv token issue ...)` and
 * `rollout config get > rollout.json` read it whole. Libraries the CLI loads print
 * there too (wrangler's "Using secrets defined in .dev.vars.site", Miniflare's and
 * workerd's logs, any console.log). So while a command runs, every write to
 * process.stdout goes to stderr instead, and the command's own output goes through
 * the writer captured before the redirect.
 */

type Write = NodeJS.WriteStream["write"];

let depth = 0;
let original: Write | undefined;

/**
 * Sends every other write to `process.stdout` to stderr until the returned function is called
 * (nested calls are counted). Call it after taking the command's own writer (cli/output.ts
 * `guardedWriter(process.stdout)` keeps the real `write`).
 * @example const restore = redirectStrayStdout(); try { await run(); } finally { restore(); }
 */
export function redirectStrayStdout(): () => void {
  if (depth++ === 0) {
    original = process.stdout.write;
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) =>
      (process.stderr.write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest)) as Write;
  }
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    if (--depth === 0 && original) {
      process.stdout.write = original;
      original = undefined;
    }
  };
}
