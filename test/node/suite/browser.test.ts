// A person's view: headless Chromium loads the demo site through the site
// Worker; every asset loads, the console stays clean, and a screenshot is saved.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, cli } from "../helpers/cli.ts";
import { startWranglerDev, type DevServer } from "../helpers/wrangler-dev.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
/** Where the screenshot goes; the README's copy lives in docs/screenshots/ (EDGEKV_SCREENSHOT_DIR=docs/screenshots to refresh it). */
const SHOT_DIR = process.env.EDGEKV_SCREENSHOT_DIR ?? join(ROOT, "test-results");

let dir: string;
let dev: DevServer;
let browser: Browser;

describe.skipIf(!haveChromium && !process.env.CI)("demo site in Chromium", () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "edgekv-browser-"));
    const deploy = await cli(["site", "deploy", join(ROOT, "demo", "site"), "--persist-to", dir]);
    expect(deploy.code, deploy.stderr).toBe(0);
    dev = await startWranglerDev({ env: "site", persistTo: dir });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await dev?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("loads every asset with no console error, and saves a screenshot", async () => {
    const page = await browser.newPage({ viewport: { width: 1000, height: 640 } });
    const problems: string[] = [];
    const loaded: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText ?? ""}`));
    page.on("response", (r) => {
      loaded.push(`${r.status()} ${new URL(r.url()).pathname}`);
      if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`);
    });
    await page.goto(`${dev.url}/`, { waitUntil: "networkidle" });
    // Page-side code as strings: it runs in the browser, not under this file's (Node) types.
    await page.waitForFunction(`document.querySelector("[data-version]")?.textContent !== "loading…"`);

    expect(problems).toEqual([]);
    for (const asset of ["/", "/assets/site.ffb8591d.css", "/assets/app.73d3ca2c.js", "/assets/logo.svg"]) {
      expect(loaded).toContain(`200 ${asset}`);
    }
    // The stylesheet applied, and the script read the version header.
    expect(await page.evaluate(`getComputedStyle(document.body).maxWidth`)).toBe("672px");
    expect(await page.textContent("[data-version]")).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]+$/);

    await mkdir(SHOT_DIR, { recursive: true });
    await page.screenshot({ path: join(SHOT_DIR, "site.png") });

    // The site's own 404 page, with status 404 and its stylesheet.
    const res = await page.goto(`${dev.url}/missing-page`);
    expect(res?.status()).toBe(404);
    expect(await page.textContent("h1")).toBe("404");
  }, 60_000);
});
