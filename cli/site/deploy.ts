/** The Node side of `edgekv site deploy`: walking the folder and compressing with node:zlib. */
import type { Dirent } from "node:fs";
import { lstat, readdir, realpath, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { promisify } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { brotliCompress, constants, gzip } from "node:zlib";
import ignore, { type Ignore } from "ignore";
import { CliError, InputError } from "../errors.ts";
import { safeText } from "../output.ts";
import { dotSegment, isInside, judgeEntry, readJudged, siteRel, WELL_KNOWN, type SiteRules } from "./judge.ts";
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
const stderrWarn: Warn = (line) => process.stderr.write(`${safeText(line)}\n`);

/**
 * A walked file, read from its judged real path (cli/site/judge.ts `readJudged`: checked again
 * when opened), or a dangling link, whose read fails the deploy with "cannot read /x: ENOENT"
 * and never follows what the link names later. An object rather than a closure per file: a
 * walk holds up to 100,000 of them.
 */
class WalkedFile implements FileSource {
  readonly path: string;
  readonly #real: string | null;
  constructor(path: string, real: string | null) {
    this.path = path;
    this.#real = real;
  }
  load(): Promise<Uint8Array> {
    if (this.#real === null) return Promise.reject(Object.assign(new Error("dangling symlink"), { code: "ENOENT" }));
    return readJudged(this.#real);
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
 * Symlinks (cli/site/judge.ts): a file is judged by what it is, not by its link's name. One
 * whose real path is outside the site folder (or that loops, or names neither a file nor a
 * folder) is skipped with a warning and never read. One that stays inside is followed and
 * served under the link's own path only if its real path would be published itself (no dot
 * segment, not a rule file, not left out by `.edgekvignore`); the same holds for every entry
 * of a folder reached through a link, and `.well-known` is never published through one. A
 * folder link is walked unless it leads back to a folder being walked (a loop). A file is
 * read from its judged real path, checked again when opened.
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
  const rules = await siteRules(root);
  const out: FileSource[] = [];
  const seen = { folders: 0, links: 0 };
  const sitePath = (abs: string) => `/${relative(root, abs).split(sep).join("/")}`;
  const ignored = (abs: string, dir: boolean) => rules.ignored(relative(root, abs).split(sep).join("/"), dir);
  const add = (abs: string, real: string | null) => {
    if (out.length >= max.files) throw new CliError(`the site folder has more than ${max.files.toLocaleString("en-US")} files (Static Assets' limit too)`);
    out.push(new WalkedFile(sitePath(abs).normalize("NFC"), real));
  };
  // `chain`: real paths of the folders being walked, from the root down (loop detection); `linked`: reached through a symlink.
  const walk = async (dir: string, chain: readonly string[], linked: boolean): Promise<void> => {
    if (++seen.folders > max.folders)
      throw new CliError(`the site folder has more than ${max.folders.toLocaleString("en-US")} folders (counting followed folder links)`);
    for (const d of await listFolder(dir)) {
      if (d.isSymbolicLink() && ++seen.links > max.links) throw new CliError(`the site folder has more than ${max.links.toLocaleString("en-US")} symlinks`);
      if (d.name.startsWith(".") && d.name !== WELL_KNOWN) continue;
      const abs = join(dir, d.name);
      if (ignored(abs, false)) continue;
      const e = await judgeEntry(d, abs, chain.at(-1)!, linked, rules);
      if (e.kind === "skip") {
        if (e.why) warn(`warning: skipping ${sitePath(abs)}: ${e.why}`);
      } else if (e.kind === "dangling") add(abs, null);
      else if (e.kind === "dir") {
        if (ignored(abs, true)) continue;
        if (chain.includes(e.real)) warn(`warning: skipping ${sitePath(abs)}: symlink loop`);
        else await walk(abs, [...chain, e.real], e.linked);
      } else if (!(dir === root && CONFIG_FILES.has(d.name))) add(abs, e.real);
    }
  };
  await walk(root, [rules.rootReal], false);
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/**
 * The default rules and `.edgekvignore` of a site folder: which paths inside it are not
 * published (cli/site/judge.ts judges link targets with them).
 */
export async function siteRules(root: string): Promise<SiteRules & { ignored(rel: string, dir: boolean): boolean }> {
  const rootReal = await realpath(root);
  const ig = await readIgnoreFile(root, rootReal);
  const ignored = (rel: string, dir: boolean) => {
    if (!ig || rel === "") return false;
    const p = rel + (dir ? "/" : "");
    // Either Unicode form: a name written NFC in the file and stored NFD on disk (macOS) still matches.
    return ig.ignores(p) || ig.ignores(p.normalize("NFC"));
  };
  return {
    rootReal,
    ignored,
    excluded(rel, dir) {
      if (dotSegment(rel)) return `/${rel} is a dotfile or inside a dot-folder`;
      if (!dir && CONFIG_FILES.has(rel)) return `/${rel} is a rule file, not served`;
      if (ignored(rel, dir)) return `/${rel} is left out by ${IGNORE_FILE}`;
      return undefined;
    },
  };
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
    // Read as judged: a FIFO or a link swapped in after the checks fails instead of blocking or leading elsewhere.
    text = new TextDecoder().decode(await readJudged(real));
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
 * Reads `_redirects`/`_headers` if present. One that is a symlink out of the site folder, or
 * to a path the site would not publish (a dotfile, what `.edgekvignore` leaves out: its
 * header values would be served), is ignored with a warning and never read.
 */
export async function readConfigFile(root: string, name: string, options: { warn?: Warn } = {}): Promise<string | undefined> {
  const abs = join(root, name);
  const ignoring = (why: string): undefined => void (options.warn ?? stderrWarn)(`warning: ignoring /${name}: ${why}`);
  try {
    const real = await realpath(abs);
    const rules = await siteRules(root);
    if (!isInside(rules.rootReal, real)) return ignoring("symlink points outside the site folder");
    const rel = siteRel(rules.rootReal, real);
    if (rel !== name && (dotSegment(rel) || rules.ignored(rel, false))) {
      return ignoring(`symlink target /${rel} is ${dotSegment(rel) ? "a dotfile or inside a dot-folder" : `left out by ${IGNORE_FILE}`}`);
    }
    if (!(await stat(real)).isFile()) throw new CliError(`/${name} is not a file`);
    return new TextDecoder().decode(await readJudged(real));
  } catch (err) {
    if (err instanceof CliError) throw err;
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliError(`cannot read ${join(root, name)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
