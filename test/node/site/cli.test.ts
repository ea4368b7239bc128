import { mkdtemp, rm, symlink, writeFile, cp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli } from "../helpers/cli.ts";
import { siteDir as writeSite } from "../helpers/site.ts";
import { parseHeaders, parseRedirects } from "../../../cli/site/rules.ts";
import { walkSite } from "../../../cli/site/deploy.ts";
import { contentTypeOf } from "../../../cli/site/mime.ts";

const FIXTURE = new URL("../../fixtures/site/", import.meta.url).pathname;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-site-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const siteDir = (files: Record<string, string>) => writeSite(dir, files);

describe("edgekv site deploy", () => {
  it("deploys, redeploys unchanged with no blob, dry-runs without writing, lists and rolls back", async () => {
    const state = join(dir, "state-a");
    const site = await mkdtemp(join(dir, "fixture-"));
    await cp(FIXTURE, site, { recursive: true });
    const first = await cli(["site", "deploy", site, "--persist-to", state, "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const r1 = JSON.parse(first.stdout) as { version: string; files: number; newBlobs: number; unchanged: boolean };
    expect(r1.files).toBe(16);
    expect(r1.newBlobs).toBe(16);

    const again = JSON.parse((await cli(["site", "deploy", site, "--persist-to", state, "--json"])).stdout) as typeof r1;
    expect(again).toMatchObject({ version: r1.version, unchanged: true, newBlobs: 0 });

    const unchangedDry = await cli(["site", "deploy", site, "--persist-to", state, "--dry-run"]);
    expect(unchangedDry.stdout).toMatch(/^nothing would change: the same site is live as /);
    expect(unchangedDry.stdout).toContain("nothing to upload");
    await writeFile(join(site, "about.html"), "<h1>changed</h1>");
    const dry = await cli(["site", "deploy", site, "--persist-to", state, "--dry-run"]);
    expect(dry.stdout).toMatch(/^would publish /);
    const listed = JSON.parse((await cli(["site", "versions", "--persist-to", state, "--json"])).stdout) as { live: string; versions: unknown[] };
    expect(listed.live).toBe(r1.version);
    expect(listed.versions).toHaveLength(1);

    const second = JSON.parse((await cli(["site", "deploy", site, "--persist-to", state, "--json"], { now: () => Date.now() + 5000 })).stdout) as typeof r1;
    expect(second.newBlobs).toBe(1);
    expect(second.version).not.toBe(r1.version);

    const human = await cli(["site", "versions", "--persist-to", state]);
    expect(human.stdout).toContain(`* ${second.version}`);
    expect(human.stdout).toContain(`+ ${r1.version}`);

    const back = await cli(["site", "rollback", "--persist-to", state]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toBe(`live: ${r1.version} (was ${second.version})\n`);
    const gc = await cli(["site", "gc", "--keep", "1", "--grace", "0", "--persist-to", state, "--json", "--yes"]);
    expect(JSON.parse(gc.stdout)).toMatchObject({ deletedVersions: [] });
  });

  it("gives one-line errors for a missing folder, bad rules, unreadable files and unservable paths", async () => {
    const state = join(dir, "state-b");
    const missing = await cli(["site", "deploy", join(dir, "nope"), "--persist-to", state]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/site folder .*nope does not exist/);

    const badRedirect = await siteDir({ "index.html": "x", _redirects: "/a /b 301\n\n/c /d 999\n" });
    const r = await cli(["site", "deploy", badRedirect, "--persist-to", state]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/_redirects:3: invalid status "999"/);

    const badHeaders = await siteDir({ "index.html": "x", _headers: "  X-A: 1\n" });
    expect((await cli(["site", "deploy", badHeaders, "--persist-to", state])).stderr).toMatch(/_headers:1: header line before any path/);

    const unreadable = await siteDir({ "index.html": "x" });
    await symlink(join(unreadable, "gone"), join(unreadable, "broken.html"));
    expect((await cli(["site", "deploy", unreadable, "--persist-to", state])).stderr).toMatch(/cannot read \/broken.html: ENOENT/);

    const control = await siteDir({ "index.html": "x", "bad\nname.html": "y" });
    // The name is shown escaped: the error stays one line (cli/output.ts).
    expect((await cli(["site", "deploy", control, "--persist-to", state])).stderr).toMatch(
      /^edgekv: cannot publish "\/bad\\u000aname.html": encoded separator or control character in path\n$/,
    );

    const spa = await siteDir({ "index.html": "x" });
    expect((await cli(["site", "deploy", spa, "--spa", "app.html", "--persist-to", state])).stderr).toMatch(/--spa \/app.html: no such file/);
    expect((await cli(["site", "deploy", spa, "--trailing-slash", "sometimes"])).code).toBe(2);
    expect((await cli(["site", "rollback", "--persist-to", state])).stderr).toMatch(/no site is deployed/);
  });
});

describe("deploy-time compilation", () => {
  it("walks the folder, skipping dotfiles except .well-known, and the rule files", async () => {
    const paths = (await walkSite(FIXTURE)).map((f) => f.path);
    expect(paths).toContain("/.well-known/security.txt");
    expect(paths).toContain("/blog/first post.html");
    expect(paths).toContain("/docs/café/index.html");
    expect(paths).not.toContain("/.draft.html");
    expect(paths).not.toContain("/_redirects");
  });

  it("decides content types with charset for text", () => {
    expect(contentTypeOf("/a/b.HTML").type).toBe("text/html; charset=utf-8");
    expect(contentTypeOf("/x.svg").type).toBe("image/svg+xml; charset=utf-8");
    expect(contentTypeOf("/v.webm")).toEqual({ type: "video/webm", compressible: false });
    expect(contentTypeOf("/noext").type).toBe("application/octet-stream");
  });

  it("compiles _redirects: statics, splats, placeholders, and refuses bad lines with their number", () => {
    const rules = parseRedirects("# c\n/a /b\n/blog/* /p/:splat 301\n/u/:id/x /users/:id 308\n/caf%C3%A9 /ü 302\n");
    expect(rules[0]).toMatchObject({ line: 2, from: "/a", to: "/b", status: 302 });
    expect(rules[1]!.pattern).toEqual({ re: "^/blog/(.*)$", names: ["splat"] });
    expect(rules[2]!.pattern).toEqual({ re: "^/u/([^/]+)/x$", names: ["id"] });
    expect(rules[3]).toMatchObject({ from: "/café", to: "/%C3%BC" });
    const bad: [string, RegExp][] = [
      ["/a", /:1: expected "FROM TO \[STATUS\]"/],
      ["/a /b 404", /:1: invalid status "404"/],
      ["a /b", /:1: .*must be a path/],
      ["/a /:slug", /:1: target uses :slug/],
      ["/a https://x.com 200", /:1: a 200 rewrite must point to a path/],
      ["/a b", /:1: target "b" must start with/],
      ["/a/*/b/* /c", /more than one \*/],
    ];
    for (const [text, re] of bad) expect(() => parseRedirects(text)).toThrow(re);
    expect(() => parseRedirects(Array.from({ length: 101 }, (_, i) => `/d${i}/* /x`).join("\n"))).toThrow(/:101: more than 100 dynamic/);
  });

  it("compiles _headers and refuses bad lines with their number", () => {
    const rules = parseHeaders("/*\n  X-A: 1\n  ! Referrer-Policy\n/s/:name\n  X-N: :name\n");
    expect(rules).toEqual([
      { pattern: { re: "^/(.*)$", names: ["splat"] }, set: [["X-A", "1"]], unset: ["Referrer-Policy"] },
      { pattern: { re: "^/s/([^/]+)$", names: ["name"] }, set: [["X-N", ":name"]], unset: [] },
    ]);
    expect(() => parseHeaders("/a\n  Bad Name: 1")).toThrow(/_headers:2: invalid header name/);
    expect(() => parseHeaders("/a\n  X-A 1")).toThrow(/_headers:2: expected "Name: value"/);
    expect(() => parseHeaders("/a\n/b\n  X: 1")).toThrow(/_headers:1: rule has no header lines/);
    expect(() => parseHeaders("https://x.com/*\n  X: 1")).toThrow(/_headers:1: .*host patterns are not supported/);
  });
});
