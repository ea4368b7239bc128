// `.edgekvignore` (issue 12): gitignore syntax at the top of the site folder. It is read
// after the default rules, so it can only leave files out: no pattern re-includes a
// dotfile, the rule files, or a symlink that leads out of the folder.
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IGNORE_FILE, walkSite } from "../../../cli/site/deploy.ts";
import { cli } from "../helpers/cli.ts";
import { siteDir as writeSite } from "../helpers/site.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-site-ignore-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const siteDir = (files: Record<string, string>) => writeSite(dir, files);

const paths = async (root: string) => (await walkSite(root, { warn: () => undefined })).map((f) => f.path);

describe(".edgekvignore", () => {
  it("leaves out what its patterns name: globs, folders, anchored paths, with ! for exceptions", async () => {
    const root = await siteDir({
      [IGNORE_FILE]: "# comment\n*.map\n!keep.map\ndrafts/\n/secret.txt\nbuild/**/*.log\n",
      "index.html": "home",
      "app.js": "js",
      "app.js.map": "map",
      "keep.map": "kept",
      "drafts/post.html": "draft",
      "blog/drafts/x.html": "nested draft folder",
      "secret.txt": "top-level only",
      "docs/secret.txt": "not anchored here",
      "build/a/b/debug.log": "log",
      "build/a/b/page.html": "page",
    });
    expect(await paths(root)).toEqual(["/app.js", "/build/a/b/page.html", "/docs/secret.txt", "/index.html", "/keep.map"]);
  });

  it("is never published itself, and only the one at the top is read", async () => {
    const root = await siteDir({ [IGNORE_FILE]: "*.txt\n", "index.html": "x", "a.txt": "a", [`sub/${IGNORE_FILE}`]: "*.html\n", "sub/b.html": "b" });
    const found = await paths(root);
    expect(found).toEqual(["/index.html", "/sub/b.html"]);
    expect(found.some((p) => p.includes(IGNORE_FILE))).toBe(false);
  });

  it("cannot re-include dotfiles, dot-folders or the rule files", async () => {
    const root = await siteDir({
      [IGNORE_FILE]: "!.env\n!.git/\n!.git/config\n!.*\n!_headers\n!_redirects\n!/.edgekvignore\n",
      "index.html": "x",
      ".env": "SECRET=1",
      ".git/config": "[core]",
      _headers: "/*\n  X-A: 1\n",
      _redirects: "/a /b\n",
      ".well-known/security.txt": "Contact: x",
    });
    expect(await paths(root)).toEqual(["/.well-known/security.txt", "/index.html"]);
  });

  it("cannot re-include a symlink out of the folder; an ignored link is never even resolved", async () => {
    const outside = await siteDir({ "passwd.txt": "root:x:0:0" });
    const root = await siteDir({ [IGNORE_FILE]: "!out.txt\n!outdir/\nlinked/\n", "index.html": "x", "docs/a.html": "a" });
    await symlink(join(outside, "passwd.txt"), join(root, "out.txt"));
    await symlink(outside, join(root, "outdir"));
    await symlink(join(root, "docs"), join(root, "linked"));
    const warnings: string[] = [];
    const found = (await walkSite(root, { warn: (l) => warnings.push(l) })).map((f) => f.path);
    expect(found).toEqual(["/docs/a.html", "/index.html"]);
    expect(warnings.sort()).toEqual([
      "warning: skipping /out.txt: symlink points outside the site folder",
      "warning: skipping /outdir: symlink points outside the site folder",
    ]);
  });

  it("matches case-insensitively and in either Unicode form, so it errs towards leaving out", async () => {
    const root = await siteDir({ [IGNORE_FILE]: "Private/\ncafé.html\n", "index.html": "x", "private/a.html": "p", "cafe\u0301.html": "nfd" });
    expect(await paths(root)).toEqual(["/index.html"]);
  });

  it("a deploy refuses an ignore file that is a symlink out of the folder, or not a file, before writing anything", async () => {
    const outside = await siteDir({ rules: "*.html\n" });
    const linked = await siteDir({ "index.html": "x" });
    await symlink(join(outside, "rules"), join(linked, IGNORE_FILE));
    const state = join(dir, "state");
    const r = await cli(["site", "deploy", linked, "--persist-to", state]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\.edgekvignore is a symlink out of the site folder; refusing to deploy/);
    const folder = await siteDir({ "index.html": "x", [`${IGNORE_FILE}/x`]: "y" });
    expect((await cli(["site", "deploy", folder, "--persist-to", state])).stderr).toMatch(/\.edgekvignore is not a file/);
    const versions = await cli(["site", "versions", "--persist-to", state, "--json"]);
    expect(JSON.parse(versions.stdout)).toMatchObject({ live: null, versions: [] });
  });

  it("a deploy publishes without the ignored files", async () => {
    const root = await siteDir({ [IGNORE_FILE]: "*.map\n", "index.html": "x", "app.js": "y", "app.js.map": "z" });
    const r = await cli(["site", "deploy", root, "--persist-to", join(dir, "state-2"), "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ files: 2, newBlobs: 2, writes: { blobs: 2, shards: 1, index: 1, pointer: 1, total: 5 } });
  });
});
