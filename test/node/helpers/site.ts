import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * Writes `files` (relative path -> content, folders created) into a new folder under `parent`.
 * @example const root = await siteDir(tmp, { "index.html": "home", "css/a.css": "x" });
 */
export async function siteDir(parent: string, files: Record<string, string>, name?: string): Promise<string> {
  const root = name === undefined ? await mkdtemp(join(parent, "site-")) : join(parent, name);
  for (const [p, c] of Object.entries(files)) {
    await mkdir(join(root, p, ".."), { recursive: true });
    await writeFile(join(root, p), c);
  }
  return root;
}
