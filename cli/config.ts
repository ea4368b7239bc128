/**
 * Finding the wrangler config the way wrangler does (its `findWranglerConfig`):
 * `wrangler.json`, then `wrangler.jsonc`, then `wrangler.toml`, each searched from
 * the working directory upwards. Reading it is left to wrangler (`unstable_readConfig`,
 * in targets.ts), so JSONC and TOML are parsed by the same code `wrangler dev` uses.
 */
import { statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** In wrangler's order of preference. */
export const CONFIG_NAMES = ["wrangler.json", "wrangler.jsonc", "wrangler.toml"] as const;

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The nearest `name` in `start` or a folder above it. */
function findUp(name: string, start: string): string | undefined {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    const candidate = join(dir, name);
    if (isFile(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The wrangler config for `cwd`: `--config` when given (resolved against cwd), else the one wrangler would find.
 * @example findWranglerConfig("/repo/site/public") // "/repo/wrangler.jsonc"
 */
export function findWranglerConfig(cwd: string, explicit?: string): string | undefined {
  if (explicit !== undefined) return resolve(cwd, explicit);
  for (const name of CONFIG_NAMES) {
    const found = findUp(name, cwd);
    if (found) return found;
  }
  return undefined;
}
