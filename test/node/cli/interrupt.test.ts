// Issue 22 point 6: interrupted and dry runs say what happened. Ctrl-C (SIGINT), SIGTERM
// or SIGHUP during `site deploy` exits 128+n with one line on stderr: the live site is
// unchanged and a re-run resumes (it does, and the live site was indeed unchanged).
// `--dry-run` never says "uploading". The real binary in a child process, real local KV.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, ROOT, runCli } from "../helpers/cli.ts";
import { siteDir } from "../helpers/site.ts";

let dir: string;
let state: string[];
let first: string;
let second: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-interrupt-"));
  state = ["--persist-to", join(dir, "state")];
  first = await siteDir(dir, { "index.html": "first" });
  const files: Record<string, string> = { "index.html": "second" };
  for (let i = 0; i < 300; i++) files[`page-${i}.html`] = `page ${i} ${"x".repeat(200)}`;
  second = await siteDir(dir, files);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const live = async () => (JSON.parse((await runCli(["site", "versions", "--json", ...state])).stdout) as { live: string | null }).live;

/** Starts `args`, sends `signal` once stderr shows `when`, and resolves with the exit code and stderr. */
function interrupt(args: string[], signal: NodeJS.Signals, when: RegExp): Promise<{ code: number | null; stderr: string; sent: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let sent = false;
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (!sent && when.test(stderr)) {
        sent = true;
        child.kill(signal);
      }
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr, sent }));
  });
}

describe("site deploy, interrupted", () => {
  it("Ctrl-C: exit 130, says the live site is unchanged and that a re-run resumes; it is, and it does", async () => {
    const deployed = await runCli(["site", "deploy", first, "--json", ...state]);
    expect(deployed.code, deployed.stderr).toBe(0);
    const before = await live();
    expect(before).toMatch(/\S/);

    const r = await interrupt(["site", "deploy", second, ...state], "SIGINT", /site deploy: \d+ files/);
    expect(r.sent).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/edgekv: interrupted \(SIGINT\); the live site is unchanged .*run the same command again to resume/);
    expect(await live()).toBe(before);

    const again = await runCli(["site", "deploy", second, "--json", ...state]);
    expect(again.code, again.stderr).toBe(0);
    const after = (JSON.parse(again.stdout) as { version: string }).version;
    expect(await live()).toBe(after);
    expect(after).not.toBe(before);
  }, 180_000);

  it("SIGTERM and SIGHUP: exit 143 and 129, with the same explanation", async () => {
    for (const [signal, code] of [
      ["SIGTERM", 143],
      ["SIGHUP", 129],
    ] as const) {
      // New content each time: 300 blobs to upload, so the signal lands while the deploy runs.
      const files: Record<string, string> = {};
      for (let i = 0; i < 300; i++) files[`p-${i}.html`] = `${signal} ${i} ${"y".repeat(200)}`;
      const site = await siteDir(dir, files);
      const r = await interrupt(["site", "deploy", site, "--preview", ...state], signal, /site deploy: \d+ files/);
      expect(r.code, r.stderr).toBe(code);
      expect(r.stderr).toContain(`interrupted (${signal}); the live site is unchanged (a preview never writes the pointer)`);
    }
  }, 180_000);
});

describe("site deploy --dry-run", () => {
  it("counts instead of saying it uploads, and writes nothing", async () => {
    const before = await live();
    const changed = await siteDir(dir, { "index.html": "third", "new.html": "new" });
    const r = await runCli(["site", "deploy", changed, "--dry-run", ...state]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/uploading/);
    expect(r.stderr).toMatch(/counting \(dry run, nothing written\): 2\/2/);
    expect(r.stdout).toContain("would publish");
    expect(await live()).toBe(before);
  }, 120_000);
});
