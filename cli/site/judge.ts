/**
 * Whether one entry of the site folder may be published, judged by what it is (its real
 * path) and not by the name of the link that leads to it, and reading exactly the file
 * that was judged. The walk (cli/site/deploy.ts) calls `judgeEntry` for each entry it
 * has not already left out by name, and loads files with `readJudged`.
 */
import type { Dirent } from "node:fs";
import { constants, type Stats } from "node:fs";
import { open, readlink, realpath, stat } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";

/** The one dot-folder a site may publish, and only as a real folder at its own path. */
export const WELL_KNOWN = ".well-known";

/** What the walk knows about the folder: where it really is, and what it leaves out. */
export interface SiteRules {
  /** Real path of the site folder. */
  rootReal: string;
  /**
   * Why a path inside the folder (`/`-separated, relative to the top, no leading `/`) is not
   * published, else undefined: a dot segment, a rule file, an `.edgekvignore` pattern.
   */
  excluded(rel: string, dir: boolean): string | undefined;
}

/** What a folder entry is; `why` is the warning naming why a skipped entry is left out (none: quietly). */
export type Judged = { kind: "file"; real: string } | { kind: "dir"; real: string; linked: boolean } | { kind: "dangling" } | { kind: "skip"; why?: string };

/** True when `real` (a resolved path) is `rootReal` or under it. */
export function isInside(rootReal: string, real: string): boolean {
  const rel = relative(rootReal, real);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** `real` relative to the site folder, `/`-separated ("" for the folder itself). */
export function siteRel(rootReal: string, real: string): string {
  return relative(rootReal, real).split(sep).join("/");
}

/** The default rule every real path meets: no segment starting with a dot. */
export function dotSegment(rel: string): boolean {
  return rel.split("/").some((s) => s.startsWith("."));
}

/**
 * Judges one entry of a folder being walked. `dirReal` is that folder's real path; `linked`
 * says it was reached through a symlink. A symlink is resolved to the end of its chain;
 * its target, and every entry of a folder reached through one, is judged by its real path
 * inside the site folder (the rules of `rules.excluded`, without the `.well-known`
 * exception). Links out of the folder, loops, dangling links and targets that are neither
 * file nor folder are as before: skipped with a warning (dangling: listed, so reading fails).
 */
export async function judgeEntry(d: Dirent, abs: string, dirReal: string, linked: boolean, rules: SiteRules): Promise<Judged> {
  const skip = (why?: string): Judged => (why === undefined ? { kind: "skip" } : { kind: "skip", why });
  if (d.name === WELL_KNOWN && (linked || d.isSymbolicLink())) {
    return skip(`${WELL_KNOWN} is published only as a real folder, not through a symlink`);
  }
  // Anything else named .well-known is a dotfile.
  if (d.name === WELL_KNOWN && !d.isDirectory()) return skip();
  if (!d.isSymbolicLink()) {
    const dir = d.isDirectory();
    if (!dir && !d.isFile()) return skip();
    const real = join(dirReal, d.name);
    // Outside a linked folder the real path is the walked path, already judged by name.
    const why = linked ? rules.excluded(siteRel(rules.rootReal, real), dir) : undefined;
    if (why) return skip(`its real path ${why}`);
    return dir ? { kind: "dir", real, linked } : { kind: "file", real };
  }
  let real: string;
  let target: Stats;
  try {
    real = await realpath(abs);
    if (!isInside(rules.rootReal, real)) return skip("symlink points outside the site folder");
    target = await stat(real);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A dangling link stays in the list so the deploy fails with "cannot read /x: ENOENT".
    if (code === "ENOENT") return { kind: "dangling" };
    return skip(code === "ELOOP" ? "symlink loop" : `cannot resolve symlink (${code ?? String(err)})`);
  }
  const dir = target.isDirectory();
  if (!dir && !target.isFile()) return skip("symlink to something that is neither a file nor a folder");
  const rel = siteRel(rules.rootReal, real);
  const why = rel === "" ? undefined : rules.excluded(rel, dir);
  if (why) return skip(`symlink target ${why}`);
  return dir ? { kind: "dir", real, linked: true } : { kind: "file", real };
}

/** The path the kernel has for an open file (Linux), else undefined. */
async function pathOfFd(fd: number): Promise<string | undefined> {
  try {
    return await readlink(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/** A file that is not at its judged path (or not a file) when read; the message follows "cannot read /path: ". */
const changed = () => new Error("it changed during the deploy (not the file that was checked); run it again");

/**
 * Reads the regular file at `real` (a judged real path) only if what is opened is still
 * that: opened without following a last symlink and without blocking on a FIFO, then
 * checked to be a regular file whose own path (Linux: the kernel's, from the descriptor;
 * elsewhere: its real path and inode) is `real`. A swap after the walk fails the deploy
 * instead of publishing what the swap points to.
 */
export async function readJudged(real: string): Promise<Uint8Array> {
  const fh = await open(real, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw changed();
    const kernel = await pathOfFd(fh.fd);
    if (kernel !== undefined ? kernel !== real : (await realpath(real)) !== real || !sameFile(await stat(real), st)) throw changed();
    return new Uint8Array(await fh.readFile());
  } finally {
    await fh.close();
  }
}

function sameFile(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}
