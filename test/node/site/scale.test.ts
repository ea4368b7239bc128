// Issue 23 from the CLI's side: the walk counts files against Static Assets' 100,000 and
// bounds folders and symlinks apart, each with its own message; the progress line shows
// files per second and the time left; a one-file change through the real binary is 4 KV
// writes, and `site gc` reports the shards it keeps and deletes.
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_WALK_FOLDERS, MAX_WALK_LINKS, walkSite } from "../../../cli/site/deploy.ts";
import { MAX_SITE_FILES, checkFiles, type FileSource } from "../../../cli/site/publish.ts";
import { formatDuration, progress } from "../../../cli/output.ts";
import { cli } from "../helpers/cli.ts";
import { siteDir } from "../helpers/site.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-site-scale-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `files` files spread over `folders` folders. */
function spread(files: number, folders: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: files }, (_, i) => [`d${i % folders}/f${i}.txt`, `file ${i}`]));
}

describe("the walk's limits", () => {
  it("are Static Assets' 100,000 files, with folders and symlinks bounded apart", () => {
    expect(MAX_SITE_FILES).toBe(100_000);
    expect(MAX_WALK_FOLDERS).toBeGreaterThanOrEqual(1_000);
    expect(MAX_WALK_LINKS).toBeGreaterThanOrEqual(1_000);
  });

  it("count files, not folders: exactly the file limit in many folders deploys; one file more is refused by name", async () => {
    // The shape of the 100,000 files in 1,000 folders, at 1/1,000 scale: 100 files in 10 folders.
    const root = await siteDir(dir, spread(100, 10));
    expect(await walkSite(root, { limits: { files: 100 } })).toHaveLength(100);
    await writeFile(join(root, "d0", "one-more.txt"), "x");
    await expect(walkSite(root, { limits: { files: 100 } })).rejects.toThrow(/more than 100 files/);
    // Dotfiles and ignored files are not counted: they are not published.
    await writeFile(join(root, ".hidden"), "x");
    await expect(walkSite(root, { limits: { files: 101 } })).resolves.toHaveLength(101);
  });

  it("bound folders (followed folder links included) and symlinks, each with its own message", async () => {
    const root = await siteDir(dir, spread(10, 5));
    // The top folder and its 5: 6 folders.
    expect(await walkSite(root, { limits: { folders: 6 } })).toHaveLength(10);
    await expect(walkSite(root, { limits: { folders: 5 } })).rejects.toThrow(/more than 5 folders \(counting followed folder links\)/);
    await symlink("d0", join(root, "alias"));
    await expect(walkSite(root, { limits: { folders: 6 } })).rejects.toThrow(/more than 6 folders/);
    for (const i of [1, 2]) await symlink(join("d1", `f${i === 1 ? 1 : 6}.txt`), join(root, `link${i}.txt`));
    expect(await walkSite(root, { limits: { links: 3 } })).toHaveLength(10 + 2 + 2);
    await expect(walkSite(root, { limits: { links: 2 } })).rejects.toThrow(/more than 2 symlinks/);
  });

  it("a file list longer than the limit is refused before any path is checked or any KV is opened", () => {
    const load = async () => new Uint8Array();
    const files: FileSource[] = Array.from({ length: MAX_SITE_FILES + 1 }, (_, i) => ({ path: `/f${i}`, load }));
    expect(() => checkFiles(files, undefined)).toThrow(/100,001 files, more than 100,000/);
    expect(() => checkFiles(files.slice(1), undefined)).not.toThrow();
  });
});

describe("progress", () => {
  it("shows files per second and the time left once a second has passed, never on the last line", () => {
    let t = 0;
    const lines: string[] = [];
    const p = progress("uploading", { tty: false, write: (s) => lines.push(s), intervalMs: 5_000, now: () => t, unit: "files" });
    p.update(10, 1000); // at once, no rate yet
    t = 10_000;
    p.update(500, 1000);
    t = 20_000;
    p.update(1000, 1000);
    p.done();
    expect(lines).toEqual(["uploading: 10/1000\n", "uploading: 500/1000, 50 files/s, 10 s left\n", "uploading: 1000/1000\n"]);
    expect([formatDuration(0.4), formatDuration(59), formatDuration(60), formatDuration(412)]).toEqual(["0 s", "59 s", "1 min", "6 min 52 s"]);
  });

  it("on a terminal, a shorter line overwrites all of a longer one", () => {
    let t = 0;
    const out: string[] = [];
    const p = progress("hashing", { tty: true, write: (s) => out.push(s), now: () => t, unit: "files" });
    t = 2_000;
    p.update(10, 100_000);
    t = 4_000;
    p.update(99_999, 100_000);
    const [long, short] = out.slice(-2) as [string, string];
    expect(long).toMatch(/5 files\/s, \d+ min/);
    expect(short.length).toBeGreaterThanOrEqual(long.length);
  });
});

describe("through the real binary", () => {
  it("a one-file change is 4 KV writes; site gc reports the shards it deletes and keeps", async () => {
    const state = join(dir, "state");
    const root = await siteDir(dir, { "index.html": "<h1>home</h1>", ...spread(40, 4) });
    const deploy = async () => {
      const r = await cli(["site", "deploy", root, "--persist-to", state, "--json"]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { writes: { total: number }; filesPerSecond: number };
    };
    expect((await deploy()).writes.total).toBe(41 + 1 + 2);
    await writeFile(join(root, "d2", "f2.txt"), "changed");
    const changed = await deploy();
    expect(changed.writes).toEqual({ blobs: 1, shards: 1, index: 1, pointer: 1, total: 4 });
    expect(changed.filesPerSecond).toBeGreaterThan(0);
    const gc = await cli(["site", "gc", "--keep", "1", "--grace", "0", "--yes", "--persist-to", state]);
    expect(gc.code, gc.stderr).toBe(0);
    // The first version is kept for version skew: nothing goes yet.
    expect(gc.stdout).toMatch(/^deleted 0 versions, 0 shards and 0 blob keys; kept 2 versions, 2 shards, 42 blob keys/);
  });
});
