/**
 * Previews end to end (issue 12): the real CLI uploads a version with `deploy --preview`,
 * real `wrangler dev --env site` keeps serving the live one, a link from `site preview`
 * (and the preview hostname) serves the new version whole, an expired or tampered link
 * gets the live site, and `site promote` is seen within the documented bound.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POINTER_MAX_AGE_MS } from "../../../workers/site/store.ts";
import { describeWrites, freePlanWarning, previewBase, previewTtl } from "../../../cli/commands/site.ts";
import { FREE_PLAN_WRITES_PER_DAY, writeCount } from "../../../cli/site/publish.ts";
import { cli, runCli } from "../helpers/cli.ts";
import { startWranglerDev, type DevServer } from "../helpers/wrangler-dev.ts";

const SECRET = "a-preview-secret-of-more-than-32-bytes";
const HOST = "preview.test";
let dir: string;
let state: string;
let site: string;
let dev: DevServer;
let live: string;
let preview: string;

async function write(root: string, files: Record<string, string>): Promise<void> {
  for (const [p, c] of Object.entries(files)) {
    await mkdir(join(root, p, ".."), { recursive: true });
    await writeFile(join(root, p), c);
  }
}

const json = <T>(r: { code: number; stdout: string; stderr: string }): T => {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-site-previews-"));
  state = join(dir, "state");
  site = join(dir, "site");
  await write(site, { "index.html": "<h1>live v1</h1>", "app.js": "console.log(1)", "about.html": "<p>about v1</p>" });
  live = json<{ version: string }>(await runCli(["site", "deploy", site, "--persist-to", state, "--json"])).version;
  await write(site, { "index.html": "<h1>preview v2</h1>", "new.html": "<p>new page</p>", "about.html": "<p>about v2</p>" });
  const p = json<{ version: string; preview: boolean; previous: string; writes: { pointer: number } }>(
    await runCli(["site", "deploy", site, "--preview", "--persist-to", state, "--json"]),
  );
  expect(p).toMatchObject({ preview: true, previous: live, writes: { pointer: 0 } });
  preview = p.version;
  const envFile = join(dir, ".dev.vars");
  await writeFile(envFile, `PREVIEW_SECRET=${SECRET}\n`, { mode: 0o600 });
  dev = await startWranglerDev({ env: "site", persistTo: state, vars: { PREVIEW_HOST: HOST }, envFile });
}, 120_000);
afterAll(async () => {
  await dev?.stop();
  await rm(dir, { recursive: true, force: true });
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(dev.url + path, { headers, redirect: "manual" });

/** A GET with a Host header of our choosing (fetch does not allow setting Host). */
function getWithHost(host: string, path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    request(`${dev.url}${path}`, { headers: { Host: host } }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    })
      .on("error", reject)
      .end();
  });
}

/** `site preview` through the real binary, the secret in its environment (never argv). */
async function previewLink(args: string[] = []): Promise<string> {
  const r = await runCli(["site", "preview", preview, "--url", `${dev.url}/about`, "--persist-to", state, "--json", ...args], {
    env: { PREVIEW_SECRET: SECRET },
  });
  return json<{ url: string }>(r).url;
}

/** Follows a preview link's 302 by hand: the cookie it sets (or clears) and where it goes. */
async function open(link: string): Promise<{ cookie: string; location: string }> {
  const res = await fetch(link, { redirect: "manual" });
  expect(res.status).toBe(302);
  return { cookie: (res.headers.get("set-cookie") ?? "").split(";")[0]!, location: res.headers.get("location")! };
}

describe("deploy --preview", () => {
  it("leaves the live site as it was: the pointer is not written", async () => {
    const versions = json<{ live: string; versions: { id: string; live: boolean; preview: boolean }[] }>(
      await cli(["site", "versions", "--persist-to", state, "--json"]),
    );
    expect(versions.live).toBe(live);
    expect(versions.versions.map((v) => [v.id, v.live, v.preview])).toEqual([
      [preview, false, true],
      [live, true, false],
    ]);
    const table = (await cli(["site", "versions", "--persist-to", state])).stdout;
    expect(table).toMatch(new RegExp(`p ${preview}\\s+preview`));
    expect(table).toMatch(new RegExp(`\\* ${live}\\s+live`));
    const home = await get("/");
    expect(await home.text()).toBe("<h1>live v1</h1>");
    expect(home.headers.get("x-edgekv-site-version")).toBe(live);
    expect((await get("/new", { Accept: "text/html" })).status).toBe(404);
  });

  it("a link from `site preview` serves the preview whole to its holder, and live to everyone else", async () => {
    const link = await previewLink(["--ttl", "10m"]);
    expect(link).toMatch(new RegExp(`^${dev.url}/about\\?edgekv_preview=${preview}\\.\\d+\\.[A-Za-z0-9_-]{43}$`));
    expect(link).not.toContain(SECRET);
    const { cookie, location } = await open(link);
    expect(location).toBe("/about");
    expect(cookie).toMatch(/^edgekv_preview=.+/);
    for (const [path, body] of [
      ["/", "<h1>preview v2</h1>"],
      ["/about", "<p>about v2</p>"],
      ["/new", "<p>new page</p>"],
    ] as const) {
      const res = await get(path, { Cookie: cookie });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(body);
      expect(res.headers.get("x-edgekv-site-version")).toBe(preview);
      expect(res.headers.get("x-robots-tag")).toBe("noindex");
    }
    // Without the cookie: the live site.
    expect(await (await get("/")).text()).toBe("<h1>live v1</h1>");
  });

  it("an expired or tampered link gets the live site with the cookie cleared, never an error page", async () => {
    const short = await previewLink(["--ttl", "1s"]);
    await new Promise((r) => setTimeout(r, 2100));
    const tampered = (await previewLink()).replace(/.$/, (c) => (c === "A" ? "B" : "A"));
    for (const link of [short, tampered]) {
      const { cookie, location } = await open(link);
      expect(cookie).toBe("edgekv_preview=");
      expect(location).toBe("/about");
      const res = await get("/about");
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("<p>about v1</p>");
    }
  });

  it("the preview hostname <version>.<PREVIEW_HOST> serves the preview", async () => {
    const res = await getWithHost(`${preview.toLowerCase()}.${HOST}`, "/");
    expect(res.status).toBe(200);
    expect(res.body).toBe("<h1>preview v2</h1>");
    expect(res.headers["x-robots-tag"]).toBe("noindex");
    expect((await getWithHost(`www.example.test`, "/")).body).toBe("<h1>live v1</h1>");
  });

  it("`site promote` flips the pointer (one write), seen within the documented bound", async () => {
    const refused = await cli(["site", "promote", preview, "--persist-to", state]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/not confirmed: make site version .* live.*add --yes/);
    expect((await get("/")).headers.get("x-edgekv-site-version")).toBe(live);
    const started = Date.now();
    const r = json<{ from: string; to: string }>(await runCli(["site", "promote", preview, "--yes", "--persist-to", state, "--json"]));
    expect(r).toEqual({ from: live, to: preview, unchanged: false });
    let seen = 0;
    while (Date.now() - started < 40_000) {
      const res = await get("/");
      if (res.headers.get("x-edgekv-site-version") === preview) {
        seen = Date.now() - started;
        expect(await res.text()).toBe("<h1>preview v2</h1>");
        break;
      }
      await res.arrayBuffer();
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // docs/site.md, Consistency bound: locally no KV propagation, so the isolate's pointer cache alone (30 s when idle).
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThanOrEqual(POINTER_MAX_AGE_MS + 1000);
    const versions = json<{ live: string; previous: string[] }>(await cli(["site", "versions", "--persist-to", state, "--json"]));
    expect(versions).toMatchObject({ live: preview, previous: [live] });
  }, 60_000);
});

describe("site preview and promote: input is checked before KV, secrets never on argv", () => {
  it("refuses --secret, a bad version, a bad or too long --ttl and a bad --url with exit 2, echoing none of them", async () => {
    const cases: [string[], RegExp][] = [
      [["--secret", SECRET], /--secret is refused/],
      [["--ttl", "31d"], /--ttl must be at most 30d/],
      [["--ttl", SECRET], /--ttl takes a duration/],
      [["--ttl", "0s"], /--ttl must be at least 1s/],
      [["--url", "javascript:alert(1)"], /--url must be an http or https URL/],
      [["--url", "https://user:pw@example.com/"], /--url must not hold a user name or password/],
      [["--url", "not a url"], /--url must be an absolute URL/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(["site", "preview", preview, "--persist-to", state, ...args], { env: { PREVIEW_SECRET: SECRET } });
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toContain(SECRET);
    }
    const bad = await cli(["site", "preview", SECRET, "--persist-to", state], { env: { PREVIEW_SECRET: SECRET } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/VERSION must be a version id/);
    expect(bad.stderr).not.toContain(SECRET);
    expect((await cli(["site", "promote", "nope", "--yes", "--persist-to", state])).code).toBe(2);
  });

  it("reads the secret from stdin when the variable is unset, and refuses a short one", async () => {
    const piped = await cli(["site", "preview", preview, "--persist-to", state, "--json"], { env: { PREVIEW_SECRET: undefined }, input: `${SECRET}\n` });
    expect(piped.code, piped.stderr).toBe(0);
    const { url, expires } = JSON.parse(piped.stdout) as { url: string; expires: string };
    expect(url).toMatch(/^\/\?edgekv_preview=/);
    expect(Date.parse(expires) - Date.now()).toBeGreaterThan(23 * 3600_000);
    const empty = await cli(["site", "preview", preview, "--persist-to", state], { env: { PREVIEW_SECRET: undefined } });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/no PREVIEW_SECRET on stdin/);
    const short = await cli(["site", "preview", preview, "--persist-to", state], { env: { PREVIEW_SECRET: "short-secret" } });
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/PREVIEW_SECRET is shorter than 32 bytes/);
    expect(short.stderr).not.toContain("short-secret");
  });

  it("a version that does not exist is exit 1 with a clear message", async () => {
    const r = await cli(["site", "preview", "20200101T000000Z-00000000", "--persist-to", state], { env: { PREVIEW_SECRET: SECRET } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/version 20200101T000000Z-00000000 not found \(see `edgekv site versions`\)/);
    const p = await cli(["site", "promote", "20200101T000000Z-00000000", "--yes", "--persist-to", state]);
    expect(p.code).toBe(1);
    expect(p.stderr).toMatch(/not found/);
  });
});

describe("write counts for people", () => {
  it("names each kind, and warns past the Free plan's writes a day naming the number and Workers Paid", () => {
    expect(describeWrites(writeCount(1000, 4, 1, 1))).toBe("1,006 KV writes (1,000 blobs + 4 shards + 1 index + 1 pointer)");
    expect(describeWrites(writeCount(0, 0, 0, 0))).toBe("0 KV writes");
    const plan = (total: number) => ({ writes: writeCount(total - 3, 1, 1, 1), atMost: false, newBlobs: total - 3, unchanged: false });
    expect(freePlanWarning(plan(FREE_PLAN_WRITES_PER_DAY))).toBeUndefined();
    const w = freePlanWarning(plan(3006));
    expect(w).toMatch(/^warning: this deploy makes 3,006 KV writes; the Workers Free plan allows 1,000 a day/);
    expect(w).toContain("Workers Paid");
  });

  it("parses --ttl and --url", () => {
    expect(previewTtl(undefined)).toBe(24 * 3600);
    expect(previewTtl("1h30m")).toBe(5400);
    expect(previewTtl("30d")).toBe(30 * 86400);
    expect(previewBase("https://www.example.com/docs/?a=1")?.href).toBe("https://www.example.com/docs/?a=1");
  });

  it("a dry run prints the writes it would make", async () => {
    const other = join(dir, "dry");
    await write(other, { "index.html": "x", "a.css": "a{}" });
    const r = await cli(["site", "deploy", other, "--dry-run", "--persist-to", join(dir, "state-dry")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("would make 5 KV writes (2 blobs + 1 shard + 1 index + 1 pointer)");
    expect(r.stderr).toContain("would make 5 KV writes");
  });
});
