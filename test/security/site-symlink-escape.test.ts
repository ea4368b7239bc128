/**
 * Attack class: a site folder (a build output, a checked-out pull request) holding symlinks
 * that lead out of it, so that `edgekv site deploy` would publish `/etc/passwd`, a home folder
 * or a sibling project. Real folders with real symlinks; the real CLI deploys; what landed is
 * read back from KV through the CLI and over HTTP from real `wrangler dev --env site`.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli } from "../node/helpers/cli.ts";
import { startWranglerDev, type DevServer } from "../node/helpers/wrangler-dev.ts";

const SECRET = `TOP-SECRET-${Math.random().toString(36).slice(2)}`;
const SIBLING_SECRET = `SIBLING-SECRET-${Math.random().toString(36).slice(2)}`;
const HEADERS_SECRET = `HEADERS-SECRET-${Math.random().toString(36).slice(2)}`;
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

let dir: string;
let site: string;
let state: string;
let dev: DevServer;
let deployed: { code: number; stdout: string; stderr: string };

/** Links that escape the site folder (site path -> link target), each to be skipped with a warning. */
const ESCAPING: Record<string, string> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-sec-symlink-"));
  site = join(dir, "site");
  state = join(dir, "state");
  const outside = join(dir, "outside");
  const sibling = join(dir, "sibling");
  await mkdir(join(site, "docs", "deep"), { recursive: true });
  await mkdir(outside, { recursive: true });
  await mkdir(join(sibling, "nested"), { recursive: true });
  // An /etc/passwd-like file and a sibling project, next to the site folder.
  await writeFile(join(outside, "passwd"), `root:x:0:0:${SECRET}:/root:/bin/bash\n`);
  await writeFile(join(outside, "_headers"), `/*\n  X-Leak: ${HEADERS_SECRET}\n`);
  await writeFile(join(sibling, "secret.html"), SIBLING_SECRET);
  await writeFile(join(sibling, "nested", "key.txt"), SIBLING_SECRET);

  await writeFile(join(site, "index.html"), "<h1>home</h1>");
  await writeFile(join(site, "docs", "page.html"), "<p>docs page</p>");
  await writeFile(join(site, "docs", "deep", "x.txt"), "deep file");

  const link = async (target: string, at: string, escapes: boolean) => {
    await symlink(target, join(site, at));
    if (escapes) ESCAPING[`/${at}`] = target;
  };
  await link(join(outside, "passwd"), "passwd.txt", true); // absolute, to a file outside
  await link("../outside/passwd", "rel-passwd.txt", true); // relative, to a file outside
  await link("../../../outside/passwd", "docs/deep/up3.txt", true); // from deep inside, climbing out
  await link(sibling, "sibling", true); // a folder outside
  await link("..", "up", true); // the parent folder
  await link("loop-b", "loop-a", true); // a loop that resolves nowhere
  await link("loop-a", "loop-b", true);
  await link(join(outside, "_headers"), "_headers", true); // a rule file outside
  await link(".", "docs/self", false); // a folder loop inside: skipped, but not an escape
  await link("index.html", "legit.html", false); // in-tree file link: served
  await link("docs", "manual", false); // in-tree folder link: walked
  await link(join(dir, "site-link-to-outside"), "dangling-later.txt", false);

  deployed = await cli(["site", "deploy", site, "--persist-to", state, "--json"]);
  // The dangling link fails the deploy ("cannot read"; with --json in the error object on stdout); drop it and deploy the rest.
  expect(deployed.stdout + deployed.stderr).toMatch(/cannot read \/dangling-later\.txt: ENOENT/);
  await rm(join(site, "dangling-later.txt"));
  deployed = await cli(["site", "deploy", site, "--persist-to", state, "--json"]);
  expect(deployed.code, deployed.stderr).toBe(0);
  dev = await startWranglerDev({ env: "site", persistTo: state });
}, 120_000);

afterAll(async () => {
  await dev?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("edgekv site deploy never follows a symlink out of the site folder", () => {
  it("warns about each escaping link by name, on the CLI's stderr", () => {
    for (const path of Object.keys(ESCAPING)) {
      const shown =
        path === "/_headers"
          ? /warning: ignoring \/_headers: symlink points outside the site folder/
          : new RegExp(`warning: skipping ${path.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: `);
      expect(deployed.stderr, path).toMatch(shown);
    }
    expect(deployed.stderr).toMatch(/skipping \/docs\/self: symlink loop/);
    expect(deployed.stderr).toMatch(/skipping \/loop-a: symlink loop/);
    // The secrets are not in the output either.
    for (const s of [SECRET, SIBLING_SECRET, HEADERS_SECRET]) expect(deployed.stdout + deployed.stderr).not.toContain(s);
  });

  it("publishes the site and its in-tree links, and nothing from outside", () => {
    const r = JSON.parse(deployed.stdout) as { files: number };
    // index, docs/page, docs/deep/x, legit (-> index), manual/page, manual/deep/x.
    expect(r.files).toBe(6);
  });

  it("no blob in KV holds an outside file (read back through the CLI)", async () => {
    const listed = await cli(["kv", "list", "--env", "site", "--prefix", "site:", "--persist-to", state, "--json"]);
    expect(listed.code, listed.stderr).toBe(0);
    const keys = (JSON.parse(listed.stdout) as { name: string }[]).map((k) => k.name);
    expect(keys.length).toBeGreaterThan(0);
    for (const content of [`root:x:0:0:${SECRET}:/root:/bin/bash\n`, SIBLING_SECRET]) {
      expect(keys.filter((k) => k.includes(sha256(content)))).toEqual([]);
    }
    // Every stored value, identity blobs and manifests alike, is free of the secrets.
    for (const key of keys.filter((k) => !/:(br|gz)$/.test(k))) {
      const got = await cli(["kv", "get", key, "--env", "site", "--persist-to", state]);
      expect(got.code, got.stderr).toBe(0);
      for (const s of [SECRET, SIBLING_SECRET, HEADERS_SECRET]) expect(got.stdout, key).not.toContain(s);
    }
  });

  it("over HTTP: the escaping paths are 404, in-tree links serve, no secret in any answer", async () => {
    const get = (p: string) => fetch(dev.url + p, { redirect: "manual", headers: { "Accept-Encoding": "identity" } });
    const checks: [string, number, string?][] = [
      ["/passwd.txt", 404],
      ["/rel-passwd.txt", 404],
      ["/docs/deep/up3.txt", 404],
      ["/sibling/secret.html", 404],
      ["/sibling/nested/key.txt", 404],
      ["/up/outside/passwd", 404],
      ["/up/sibling/secret.html", 404],
      ["/loop-a", 404],
      ["/docs/self/page.html", 404],
      ["/legit", 200, "<h1>home</h1>"],
      ["/manual/page", 200, "<p>docs page</p>"],
      ["/manual/deep/x.txt", 200, "deep file"],
      ["/", 200, "<h1>home</h1>"],
    ];
    for (const [path, status, body] of checks) {
      const res = await get(path);
      const text = await res.text();
      expect(res.status, path).toBe(status);
      if (body !== undefined) expect(text, path).toBe(body);
      for (const s of [SECRET, SIBLING_SECRET, HEADERS_SECRET]) expect(text + JSON.stringify([...res.headers]), path).not.toContain(s);
      expect(res.headers.get("x-leak"), path).toBeNull();
    }
  });
});
