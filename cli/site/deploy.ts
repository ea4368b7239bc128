/** The Node side of `edgekv site deploy`: walking the folder and compressing with node:zlib. */
import type { Dirent } from "node:fs";
import { lstat, readFile, readdir, realpath, stat } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import { promisify } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { brotliCompress, constants, gzip } from "node:zlib";
import ignore, { type Ignore } from "ignore";
import { CliError, InputError } from "../errors.ts";
import { MAX_SITE_FILES, type Compressor, type FileSource } from "./publish.ts";

const br = promisify(brotliCompress);
const gz = promisify(gzip);

/** Files that configure the site rather than being served. */
export const CONFIG_FILES = new Set(["_headers", "_redirects"]);

/**
 * The ignore file at the top of the site folder (gitignore syntax, like Static Assets'
 * `.assetsignore`). It can only leave files out: a dotfile is never published, itself included.
 */
export const IGNORE_FILE = ".edgekvignore";
/** A larger ignore file is refused: it is a mistake, not a list of patterns. */
export const MAX_IGNORE_FILE_BYTES = 1024 * 1024;

/**
 * Most folders and most symlinks one walk visits, each counted apart from the files
 * (MAX_SITE_FILES, Static Assets' limit). In-tree folder links are followed, so a folder
 * of links to links could otherwise multiply without end.
 */
export const MAX_WALK_FOLDERS = 100_000;
export const MAX_WALK_LINKS = 100_000;
/** The walk's bounds; tests lower them to reach each with a few files. */
export interface WalkLimits {
  files: number;
  folders: number;
  links: number;
}

/**
 * Files between two full garbage collections (`reclaimEvery`): each upload through wrangler's
 * platform proxy leaves garbage V8 collects lazily, hashing leaves little that outlives a scavenge.
 */
export const RECLAIM_EVERY = { uploading: 1_000, hashing: 10_000 } as const;

/**
 * A function to call once per file a deploy handles, with its phase: every so many files of a
 * phase (RECLAIM_EVERY) it runs a full garbage collection. Each local KV write goes through
 * wrangler's platform proxy and leaves about 28 KB of garbage (measured) that V8 collects
 * lazily, letting the heap grow to a multiple of what is live: 1.1 GB RSS for 99,000 files.
 * Collecting every 1,000 uploads costs a few percent of an upload's time and keeps RSS near the
 * live set (docs/site.md, Memory); while hashing, a collection every 1,000 files would double
 * an unchanged redeploy's time for nothing, so it is rarer.
 */
export function reclaimEvery(every: Readonly<Record<string, number>> = RECLAIM_EVERY): (phase: string) => void {
  let gc: (() => void) | undefined;
  try {
    setFlagsFromString("--expose-gc");
    gc = runInNewContext("gc") as () => void;
  } catch {
    return () => {};
  }
  const seen = new Map<string, number>();
  return (phase) => {
    const n = (seen.get(phase) ?? 0) + 1;
    seen.set(phase, n);
    if (n % (every[phase] ?? Infinity) === 0) gc?.();
  };
}

/** Where walk warnings go: the CLI passes its stderr channel (`ctx.err`). */
export type Warn = (line: string) => void;
const stderrWarn: Warn = (line) => process.stderr.write(`${line}\n`);

/** True when `real` (a resolved path) is `rootReal` or under it. */
function isInside(rootReal: string, real: string): boolean {
  const rel = relative(rootReal, real);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * A walked file, read only if its real path is still inside the site folder: checked again at
 * read time, so a link swapped after the walk cannot leak what it points to. An object rather
 * than a closure per file: a walk holds up to 100,000 of them.
 */
class GuardedFile implements FileSource {
  readonly path: string;
  readonly #rootReal: string;
  readonly #abs: string;
  constructor(path: string, rootReal: string, abs: string) {
    this.path = path;
    this.#rootReal = rootReal;
    this.#abs = abs;
  }
  async load(): Promise<Uint8Array> {
    const real = await realpath(this.#abs);
    if (!isInside(this.#rootReal, real)) throw new CliError(`${this.#abs} points outside the site folder`);
    return readFile(real);
  }
}

/**
 * Every servable file under `root`, skipping dotfiles and dot-folders except `.well-known`,
 * the `_headers`/`_redirects` files at the top, and what `.edgekvignore` names.
 *
 * The ignore file is consulted after the default rules, so it can only remove files: a
 * `!pattern` re-includes nothing the defaults skip (a dotfile, a link out of the folder).
 * Its patterns match the path inside the site folder (a link's own path, not its target),
 * case-insensitively; a folder it names is not walked at all.
 *
 * Symlinks: one whose real path is outside the site folder (or that loops, or names neither
 * a file nor a folder) is skipped with a warning and never read. One that stays inside is
 * followed, served under the link's own path: a folder link is walked unless it leads back
 * to a folder being walked (a loop).
 * @example const files = await walkSite("./public", { warn: ctx.err }); // [{ path: "/index.html", load }]
 */
export async function walkSite(root: string, options: { warn?: Warn; limits?: Partial<WalkLimits> } = {}): Promise<FileSource[]> {
  const warn = options.warn ?? stderrWarn;
  const max: WalkLimits = { files: MAX_SITE_FILES, folders: MAX_WALK_FOLDERS, links: MAX_WALK_LINKS, ...options.limits };
  let info;
  try {
    info = await stat(root);
  } catch {
    throw new CliError(`site folder ${root} does not exist`);
  }
  if (!info.isDirectory()) throw new CliError(`${root} is not a folder`);
  const rootReal = await realpath(root);
  const ig = await readIgnoreFile(root, rootReal);
  const ignored = (abs: string, dir: boolean) => {
    if (!ig) return false;
    const rel = relative(root, abs).split(sep).join("/") + (dir ? "/" : "");
    // Either Unicode form: a name written NFC in the file and stored NFD on disk (macOS) still matches.
    return ig.ignores(rel) || ig.ignores(rel.normalize("NFC"));
  };
  const out: FileSource[] = [];
  const seen = { folders: 0, links: 0 };
  const sitePath = (abs: string) => `/${relative(root, abs).split(sep).join("/")}`;
  const skip = (abs: string, why: string) => warn(`warning: skipping ${sitePath(abs)}: ${why}`);
  const add = (abs: string) => {
    if (out.length >= max.files) throw new CliError(`the site folder has more than ${max.files.toLocaleString("en-US")} files (Static Assets' limit too)`);
    out.push(new GuardedFile(sitePath(abs).normalize("NFC"), rootReal, abs));
  };
  // `chain`: real paths of the folders being walked, from the root down (loop detection).
  const walk = async (dir: string, chain: readonly string[]): Promise<void> => {
    if (++seen.folders > max.folders)
      throw new CliError(`the site folder has more than ${max.folders.toLocaleString("en-US")} folders (counting followed folder links)`);
    for (const d of await listFolder(dir)) {
      if (d.isSymbolicLink() && ++seen.links > max.links) throw new CliError(`the site folder has more than ${max.links.toLocaleString("en-US")} symlinks`);
      if (d.name.startsWith(".") && !(d.name === ".well-known" && (d.isDirectory() || d.isSymbolicLink()))) continue;
      const abs = join(dir, d.name);
      if (ignored(abs, false)) continue;
      const e = await classify(d, abs, rootReal, (why) => skip(abs, why));
      if (e.kind === "dangling")
        add(abs); // fails the deploy with "cannot read /x: ENOENT"
      else if (e.kind === "dir") {
        if (ignored(abs, true)) continue;
        const real = e.real ?? (await realpath(abs));
        if (chain.includes(real)) skip(abs, "symlink loop");
        else await walk(abs, [...chain, real]);
      } else if (e.kind === "file" && !(dir === root && CONFIG_FILES.has(d.name))) add(abs);
    }
  };
  await walk(root, [rootReal]);
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/**
 * The site's `.edgekvignore`, if any. One that cannot be read as a file inside the folder
 * fails the deploy rather than being skipped: files meant to stay out would be published.
 */
async function readIgnoreFile(root: string, rootReal: string): Promise<Ignore | undefined> {
  const abs = join(root, IGNORE_FILE);
  try {
    await lstat(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliError(`cannot read /${IGNORE_FILE}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let text: string;
  try {
    const real = await realpath(abs);
    if (!isInside(rootReal, real)) throw new CliError(`/${IGNORE_FILE} is a symlink out of the site folder; refusing to deploy without its rules`);
    const info = await stat(real);
    if (!info.isFile()) throw new CliError(`/${IGNORE_FILE} is not a file`);
    if (info.size > MAX_IGNORE_FILE_BYTES) throw new InputError(`/${IGNORE_FILE} is larger than ${MAX_IGNORE_FILE_BYTES} bytes`);
    text = await readFile(real, "utf8");
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read /${IGNORE_FILE}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return ignore().add(text);
}

async function listFolder(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new CliError(`cannot read folder ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

type Classified = { kind: "file" | "dir"; real?: string } | { kind: "dangling" } | { kind: "skip" };

/** What a folder entry is, following a symlink only when it stays inside the site folder. */
async function classify(d: Dirent, abs: string, rootReal: string, skip: (why: string) => void): Promise<Classified> {
  if (!d.isSymbolicLink()) return d.isDirectory() ? { kind: "dir" } : d.isFile() ? { kind: "file" } : { kind: "skip" };
  let real: string;
  try {
    real = await realpath(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A dangling link stays in the list so the deploy fails with "cannot read /x: ENOENT".
    if (code === "ENOENT") return { kind: "dangling" };
    skip(code === "ELOOP" ? "symlink loop" : `cannot resolve symlink (${code ?? String(err)})`);
    return { kind: "skip" };
  }
  if (!isInside(rootReal, real)) {
    skip("symlink points outside the site folder");
    return { kind: "skip" };
  }
  const target = await stat(real);
  if (target.isDirectory()) return { kind: "dir", real };
  if (!target.isFile()) {
    skip("symlink to something that is neither a file nor a folder");
    return { kind: "skip" };
  }
  // A dot-named link to a file is skipped quietly, as a dotfile is.
  return d.name.startsWith(".") ? { kind: "skip" } : { kind: "file", real };
}

/**
 * Brotli (quality 11) and gzip (level 9), for `site deploy --precompress`: the deploy pays
 * once, and a variant is kept only when it saves at least MIN_PRECOMPRESS_SAVING.
 */
export const nodeCompressor: Compressor = async (data) => {
  const [b, g] = await Promise.all([
    br(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.byteLength } }),
    gz(data, { level: 9 }),
  ]);
  return { br: new Uint8Array(b), gz: new Uint8Array(g) };
};

/**
 * Reads `_redirects`/`_headers` if present. One that is a symlink out of the site folder
 * is ignored with a warning, as `walkSite` does, and never read.
 */
export async function readConfigFile(root: string, name: string, options: { warn?: Warn } = {}): Promise<string | undefined> {
  const abs = join(root, name);
  try {
    const real = await realpath(abs);
    if (!isInside(await realpath(root), real)) {
      (options.warn ?? stderrWarn)(`warning: ignoring /${name}: symlink points outside the site folder`);
      return undefined;
    }
    return await readFile(real, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliError(`cannot read ${join(root, name)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}
