/**
 * End to end: the real CLI deploys the fixture site into local state, real
 * `wrangler dev --env site` serves it, and we fetch over real HTTP (and play
 * its video in Chromium when /usr/bin/chromium exists).
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliDecompressSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import { startWranglerDev, type DevServer } from "../helpers/wrangler-dev.ts";

const FIXTURE = new URL("../../fixtures/site/", import.meta.url).pathname;
const CHROMIUM = "/usr/bin/chromium";
let dir: string;
let dev: DevServer;
let version: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-site-e2e-"));
  // --precompress: this fixture checks stored brotli variants too (the default stores identity only).
  const deployed = await runCli(["site", "deploy", FIXTURE, "--precompress", "--persist-to", dir, "--json"]);
  expect(deployed.code, deployed.stderr).toBe(0);
  version = (JSON.parse(deployed.stdout) as { version: string }).version;
  dev = await startWranglerDev({ env: "site", persistTo: dir });
});
afterAll(async () => {
  await dev?.stop();
  await rm(dir, { recursive: true, force: true });
});

const get = (path: string, headers: Record<string, string> = {}, method = "GET") => fetch(dev.url + path, { headers, method, redirect: "manual" });

describe("the fixture site over real HTTP", () => {
  it("serves pages, clean URLs, encoded names and the deployed version", async () => {
    const home = await get("/");
    expect(home.status).toBe(200);
    expect(await home.text()).toContain("edgekv fixture site");
    expect(home.headers.get("x-edgekv-site-version")).toBe(version);
    expect(home.headers.get("x-frame-options")).toBe("DENY");
    expect(await (await get("/blog/first%20post")).text()).toContain("A file name with a space");
    expect(await (await get("/docs/caf%C3%A9/")).text()).toContain("Café ☕");
    const redirect = await get("/about.html");
    expect(redirect.status).toBe(307);
    expect(redirect.headers.get("location")).toBe("/about");
    expect((await get("/old-about")).headers.get("location")).toBe("/about");
    expect((await get("/.draft.html")).status).toBe(404);
    expect(await (await get("/.well-known/security.txt")).text()).toContain("Contact:");
  });

  it("serves binary files byte for byte with their types, and brotli that decodes", async () => {
    for (const [path, type] of [
      ["/img/logo.png", "image/png"],
      ["/fonts/LiberationMono-Regular.ttf", "font/ttf"],
      ["/media/clip.webm", "video/webm"],
    ]) {
      const res = await get(path!, { "Accept-Encoding": "identity" });
      expect(res.headers.get("content-type")).toBe(type);
      expect(Buffer.from(await res.arrayBuffer()).equals(await readFile(join(FIXTURE, path!)))).toBe(true);
    }
    // undici would decode br itself, so read the raw bytes through node:http semantics: ask and decode ourselves.
    const { request } = await import("node:http");
    const raw = await new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
      request(`${dev.url}/fonts/LiberationMono-Regular.ttf`, { headers: { "Accept-Encoding": "br, gzip" } }, (res) => {
        const parts: Buffer[] = [];
        res.on("data", (d: Buffer) => parts.push(d));
        res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(parts) }));
      })
        .on("error", reject)
        .end();
    });
    expect(raw.headers["content-encoding"]).toBe("br");
    expect(raw.headers["vary"]).toBe("Accept-Encoding");
    const original = await readFile(join(FIXTURE, "fonts/LiberationMono-Regular.ttf"));
    expect(raw.body.byteLength).toBeLessThan(original.byteLength);
    expect(brotliDecompressSync(raw.body).equals(original)).toBe(true);
  });

  it("answers 304, HEAD and ranges over HTTP", async () => {
    const etag = (await get("/css/site.css", { "Accept-Encoding": "identity" })).headers.get("etag")!;
    expect((await get("/css/site.css", { "If-None-Match": etag })).status).toBe(304);
    const head = await get("/media/clip.webm", {}, "HEAD");
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe("25157");
    const range = await get("/media/clip.webm", { Range: "bytes=100-199" });
    expect(range.status).toBe(206);
    expect(range.headers.get("content-range")).toBe("bytes 100-199/25157");
    const video = await readFile(join(FIXTURE, "media/clip.webm"));
    expect(Buffer.from(await range.arrayBuffer()).equals(video.subarray(100, 200))).toBe(true);
    expect((await get("/media/clip.webm", { Range: "bytes=99999-" })).status).toBe(416);
  });

  it("serves the nearest 404 page and 405s other methods", async () => {
    const nf = await get("/docs/nothing-here");
    expect(nf.status).toBe(404);
    expect(await nf.text()).toContain("Docs page not found");
    expect(nf.headers.get("cache-control")).toBe("no-store");
    const post = await get("/", {}, "POST");
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
  });

  it.skipIf(!existsSync(CHROMIUM))("plays the fixture video in Chromium", async () => {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${dev.url}/video.html`);
      // Runs in the page (a string, so Node's types do not have to know the DOM).
      const result = await page.evaluate<{ readyState: number; start: number; now: number; error: string | null }>(`(async () => {
        const v = document.getElementById("clip");
        await v.play();
        const start = v.currentTime;
        await new Promise((r) => setTimeout(r, 800));
        return { readyState: v.readyState, start, now: v.currentTime, error: v.error ? v.error.message : null };
      })()`);
      expect(result.error).toBeNull();
      expect(result.readyState).toBeGreaterThanOrEqual(2);
      expect(result.now).toBeGreaterThan(result.start);
    } finally {
      await browser.close();
    }
  });
});
