/**
 * Attack class: a symlink that stays inside the site folder but leads to something the site
 * would never publish under its own name: a dotfile (`env.txt -> .env`), a dot-folder
 * (`.well-known -> .git`), a rule file, a path `.edgekvignore` leaves out, through chains of
 * links, folder links, absolute or relative targets, at any depth. A file is judged by what it
 * is (its real path), not by its link's name; and the file read is the file judged (a swap
 * after the walk fails instead of publishing the new target). Real folders with real links;
 * the real CLI deploys; what landed is read back from KV (a Worker over the same local state)
 * and over HTTP from real `wrangler dev --env site`.
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { walkSite } from "../../cli/site/deploy.ts";
import { cli } from "../node/helpers/cli.ts";
import { startWithEnvBindings } from "../node/helpers/miniflare.ts";
import { siteDir } from "../node/helpers/site.ts";
import { startWranglerDev, type DevServer } from "../node/helpers/wrangler-dev.ts";

const nonce = Math.random().toString(36).slice(2);
/** One secret per hiding place, so a failure names the place. */
const S = {
  env: `ENV-SECRET-${nonce}`,
  git: `GIT-SECRET-${nonce}`,
  aws: `AWS-SECRET-${nonce}`,
  deep: `DEEP-DOT-SECRET-${nonce}`,
  ignoredDir: `IGNORED-DIR-SECRET-${nonce}`,
  ignoredFile: `IGNORED-FILE-SECRET-${nonce}`,
  anchored: `ANCHORED-SECRET-${nonce}`,
  headers: `HEADERS-RULE-SECRET-${nonce}`,
  ruleLink: `RULE-LINK-SECRET-${nonce}`,
} as const;
const SECRETS = Object.values(S);

/** Site path of each link that must be skipped, with the words its warning must hold. */
const SKIPPED: [string, RegExp][] = [
  ["/env.txt", /symlink target \/\.env is a dotfile/],
  ["/abs-env.txt", /symlink target \/\.env is a dotfile/],
  ["/sub/settings", /symlink target \/\.env is a dotfile/],
  ["/deep/a/b/up.txt", /symlink target \/\.env is a dotfile/],
  ["/.well-known", /\.well-known is published only as a real folder/],
  ["/gitdir", /symlink target \/\.git is a dotfile or inside a dot-folder/],
  ["/gitconfig.txt", /symlink target \/\.git\/config is a dotfile or inside a dot-folder/],
  ["/chain-1.txt", /symlink target \/\.aws\/credentials is a dotfile/],
  ["/chain-2.txt", /symlink target \/\.aws\/credentials is a dotfile/],
  ["/key.txt", /symlink target \/app\/config\/\.private\/key\.txt is a dotfile/],
  ["/private", /symlink target \/app\/config\/\.private is a dotfile/],
  ["/public/inner", /symlink target \/\.git is a dotfile/],
  ["/secrets-link", /symlink target \/secrets is left out by \.edgekvignore/],
  ["/secret-file.txt", /symlink target \/secrets\/db\.txt is left out by \.edgekvignore/],
  ["/token.txt", /symlink target \/notes\/api\.key is left out by \.edgekvignore/],
  ["/certs/server.pem", /its real path \/keys\/server\.pem is left out by \.edgekvignore/],
  ["/rules.txt", /symlink target \/_redirects is a rule file/],
  ["/pipe.txt", /neither a file nor a folder/],
  ["/well-alias.txt", /symlink target \/public\/\.well-known\/security\.txt is a dotfile/],
  ["/mirror/.well-known", /\.well-known is published only as a real folder/],
  ["/public/.well-known/leak.txt", /symlink target \/\.env is a dotfile/],
];

let dir: string;
let site: string;
let state: string;
let dev: DevServer;
let reader: Miniflare;
let deployed: { code: number; stdout: string; stderr: string };

/** Every value in SITE_KV, read by a Worker over the deploy's local state. */
const DUMP_WORKER = `export default { async fetch(req, env) {
  const out = {}; let cursor;
  do {
    const page = await env.SITE_KV.list({ cursor });
    for (const k of page.keys) out[k.name] = await env.SITE_KV.get(k.name, "text");
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return Response.json(out);
} }`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-sec-target-"));
  state = join(dir, "state");
  site = await siteDir(
    dir,
    {
      "index.html": "<h1>home</h1>",
      "docs/page.html": "<p>docs</p>",
      ".env": `API_KEY=${S.env}\n`,
      ".git/config": `[remote] token = ${S.git}\n`,
      ".aws/credentials": `aws_secret_access_key=${S.aws}\n`,
      "app/config/.private/key.txt": S.deep,
      "secrets/db.txt": S.ignoredDir,
      "notes/api.key": S.ignoredFile,
      "notes/readme.txt": "notes",
      "keys/server.pem": S.anchored,
      "keys/public.pem": "public key",
      "public/index.html": "<p>public</p>",
      "public/.well-known/security.txt": "Contact: mailto:security@example.com",
      ".config/headers": `/*\n  X-Leak: ${S.headers}\n`,
      _redirects: `# ${S.ruleLink}\n/old /new 301\n`,
      "deep/a/b/c.txt": "deep",
      "deep/.well-known": `a file, not the folder: a dotfile ${S.env}`,
      ".edgekvignore": "secrets/\n*.key\n/keys/server.pem\n",
    },
    "site",
  );
  const link = (target: string, at: string) => symlink(target, join(site, at));
  await link(".env", "env.txt"); // relative, to a dotfile
  await link(join(site, ".env"), "abs-env.txt"); // absolute, to a dotfile
  await mkdir(join(site, "sub"));
  await link("../.env", "sub/settings"); // from a subfolder
  await link("../../../.env", "deep/a/b/up.txt"); // climbing from depth
  await link(".git", ".well-known"); // .well-known as a link
  await link(".git", "gitdir"); // a folder link into a dot-folder
  await link(".git/config", "gitconfig.txt"); // a file inside a dot-folder
  await link(".aws/credentials", ".aws-link");
  await link(".aws-link", "chain-1.txt"); // a chain through a dot-named link
  await link("chain-1.txt", "chain-2.txt"); // a link to a link to a link
  await link("app/config/.private/key.txt", "key.txt"); // a dot segment at depth
  await link("app/config/.private", "private"); // a folder link to it
  await link("../.git", "public/inner"); // a link inside a real folder
  await link("secrets", "secrets-link"); // a folder the ignore file leaves out
  await link("secrets/db.txt", "secret-file.txt"); // a file inside it
  await link("notes/api.key", "token.txt"); // a file a glob leaves out
  await link("keys", "certs"); // a linked folder with one anchored-ignored file
  await link("_redirects", "rules.txt"); // a rule file, published under another name
  execFileSync("mkfifo", [join(site, "queue")]);
  await link("queue", "pipe.txt"); // a FIFO: never opened
  await link("public", "mirror"); // a linked folder holding a real .well-known
  await link("../../.env", "public/.well-known/leak.txt"); // a link inside a real .well-known
  await link("public/.well-known/security.txt", "well-alias.txt"); // the exception never applies through a link
  await link(".config/headers", "_headers"); // the header rules, from a dot-folder: their values would be served

  deployed = await cli(["site", "deploy", site, "--persist-to", state, "--json"]);
  expect(deployed.code, deployed.stderr).toBe(0);
  dev = await startWranglerDev({ env: "site", persistTo: state });
  reader = await startWithEnvBindings("site", state, DUMP_WORKER);
}, 180_000);

afterAll(async () => {
  await dev?.stop();
  await reader?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe("site deploy judges a linked file by its real path, not by the link's name", () => {
  it("warns about each skipped link by its site path and says why; no secret in the output", () => {
    for (const [path, why] of SKIPPED) {
      const line = deployed.stderr.split("\n").find((l) => l.startsWith(`warning: skipping ${path}: `));
      expect(line, path).toBeDefined();
      expect(line, path).toMatch(why);
    }
    expect(deployed.stderr).toMatch(/warning: ignoring \/_headers: symlink target \/\.config\/headers is a dotfile or inside a dot-folder/);
    for (const s of SECRETS) expect(deployed.stdout + deployed.stderr, s).not.toContain(s);
  });

  it("publishes the site, real .well-known and in-tree links to publishable files only", () => {
    const r = JSON.parse(deployed.stdout) as { files: number };
    // index, docs/page, notes/readme, keys/public.pem, public/index, public/.well-known/security.txt,
    // deep/a/b/c.txt, certs/public.pem (a linked folder's publishable file), mirror/index.html.
    expect(r.files).toBe(9);
  });

  it("no value in SITE_KV holds a secret (every key read back by a Worker over the same state)", async () => {
    const all = (await (await reader.dispatchFetch("http://reader/")).json()) as Record<string, string>;
    expect(Object.keys(all).length).toBeGreaterThan(5);
    for (const [key, value] of Object.entries(all)) for (const s of SECRETS) expect(`${key} ${value}`, key).not.toContain(s);
  });

  it("over HTTP: the skipped paths are 404, the legitimate ones serve, no secret in any answer or header", async () => {
    const checks: [string, number, string?][] = [
      ["/env.txt", 404],
      ["/abs-env.txt", 404],
      ["/sub/settings", 404],
      ["/deep/a/b/up.txt", 404],
      ["/.well-known/config", 404],
      ["/gitdir/config", 404],
      ["/gitconfig.txt", 404],
      ["/chain-1.txt", 404],
      ["/chain-2.txt", 404],
      ["/key.txt", 404],
      ["/private/key.txt", 404],
      ["/public/inner/config", 404],
      ["/secrets-link/db.txt", 404],
      ["/secret-file.txt", 404],
      ["/token.txt", 404],
      ["/certs/server.pem", 404],
      ["/pipe.txt", 404],
      ["/well-alias.txt", 404],
      ["/mirror/.well-known/security.txt", 404],
      ["/public/.well-known/leak.txt", 404],
      ["/deep/.well-known", 404],
      ["/rules.txt", 404],
      ["/public/.well-known/security.txt", 200, "Contact: mailto:security@example.com"],
      ["/certs/public.pem", 200, "public key"],
      ["/mirror/", 200, "<p>public</p>"],
      ["/", 200, "<h1>home</h1>"],
    ];
    for (const [path, status, body] of checks) {
      const res = await fetch(dev.url + path, { redirect: "manual", headers: { "Accept-Encoding": "identity" } });
      const text = await res.text();
      expect(res.status, path).toBe(status);
      if (body !== undefined) expect(text, path).toBe(body);
      const seen = text + JSON.stringify([...res.headers]);
      for (const s of SECRETS) expect(seen, path).not.toContain(s);
      expect(res.headers.get("x-leak"), path).toBeNull();
    }
  });
});

describe("the file read is the file judged (a swap after the walk)", () => {
  const judged = async (files: Record<string, string>) => {
    const root = await siteDir(dir, files);
    const walked = await walkSite(root, { warn: () => undefined });
    return { root, load: (p: string) => walked.find((f) => f.path === p)!.load() };
  };

  it("a file replaced by a link to a dotfile fails to load instead of reading the dotfile", async () => {
    const { root, load } = await judged({ "a.txt": "ok", ".env": S.env });
    await rm(join(root, "a.txt"));
    await symlink(".env", join(root, "a.txt"));
    await expect(load("/a.txt")).rejects.toThrow();
  });

  it("a folder replaced by a link to a dot-folder, a link retargeted, a FIFO swapped in: each fails, none hangs", async () => {
    const { root, load } = await judged({ "d/a.txt": "ok", ".git/a.txt": S.git, "b.txt": "ok", "c.txt": "ok", "i.html": "x" });
    await symlink("i.html", join(root, "l.txt"));
    const again = (await walkSite(root, { warn: () => undefined })).find((f) => f.path === "/l.txt")!;
    await rm(join(root, "d"), { recursive: true });
    await symlink(".git", join(root, "d"));
    await expect(load("/d/a.txt")).rejects.toThrow(/changed during the deploy/);
    // The link is judged by its target: retargeted to a dotfile, the judged target is still what is read.
    await rm(join(root, "l.txt"));
    await symlink(".git/a.txt", join(root, "l.txt"));
    expect(new TextDecoder().decode(await again.load())).toBe("x");
    await rm(join(root, "c.txt"));
    execFileSync("mkfifo", [join(root, "c.txt")]);
    await expect(load("/c.txt")).rejects.toThrow(/changed during the deploy/);
  });
});
