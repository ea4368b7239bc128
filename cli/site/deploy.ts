/** The Node side of `edgekv site deploy`: walking the folder and compressing with node:zlib. */
import { readFile, readdir, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { promisify } from "node:util";
import { brotliCompress, constants, gzip } from "node:zlib";
import { CliError } from "../errors.ts";
import type { Compressor, FileSource } from "./publish.ts";

const br = promisify(brotliCompress);
const gz = promisify(gzip);

/** Files that configure the site rather than being served. */
export const CONFIG_FILES = new Set(["_headers", "_redirects"]);

/**
 * Every servable file under `root`, skipping dotfiles and dot-folders except `.well-known`,
 * and the `_headers`/`_redirects` files at the top.
 * @example const files = await walkSite("./public"); // [{ path: "/index.html", load }]
 */
export async function walkSite(root: string): Promise<FileSource[]> {
  let info;
  try {
    info = await stat(root);
  } catch {
    throw new CliError(`site folder ${root} does not exist`);
  }
  if (!info.isDirectory()) throw new CliError(`${root} is not a folder`);
  const out: FileSource[] = [];
  const walk = async (dir: string): Promise<void> => {
    let items;
    try {
      items = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      throw new CliError(`cannot read folder ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    for (const d of items) {
      if (d.name.startsWith(".") && !(d.name === ".well-known" && d.isDirectory())) continue;
      const abs = join(dir, d.name);
      if (d.isDirectory()) await walk(abs);
      else if (d.isFile() || d.isSymbolicLink()) {
        const path = `/${relative(root, abs).split(sep).join("/")}`;
        if (dir === root && CONFIG_FILES.has(d.name)) continue;
        out.push({ path: path.normalize("NFC"), load: () => readFile(abs) });
      }
    }
  };
  await walk(root);
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Brotli (quality 11) and gzip (level 9): the deploy pays once, every visitor saves. */
export const nodeCompressor: Compressor = async (data) => {
  const [b, g] = await Promise.all([
    br(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.byteLength } }),
    gz(data, { level: 9 }),
  ]);
  return { br: new Uint8Array(b), gz: new Uint8Array(g) };
};

/** Reads `_redirects`/`_headers` if present. */
export async function readConfigFile(root: string, name: string): Promise<string | undefined> {
  try {
    return await readFile(join(root, name), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliError(`cannot read ${join(root, name)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}
