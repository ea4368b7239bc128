// `npm start` itself: it starts, the five ports answer, Ctrl-C stops everything,
// and a port already in use gives a clear message instead of a stack trace.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.ts";
import { freePort, portIsFree } from "../helpers/ports.ts";

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function portsEnv(): Promise<Record<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), "edgekv-start-"));
  dirs.push(dir);
  return {
    EDGEKV_PERSIST_TO: dir,
    EDGEKV_SITE_PORT: String(await freePort()),
    EDGEKV_SPLITTER_PORT: String(await freePort()),
    EDGEKV_AUTH_PORT: String(await freePort()),
    EDGEKV_BLUE_PORT: String(await freePort()),
    EDGEKV_GREEN_PORT: String(await freePort()),
  };
}

function start(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [join(ROOT, "scripts", "start.ts")], {
    cwd: ROOT,
    env: { ...process.env, ...env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, output: () => out, exited };
}

async function until(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("npm start", () => {
  it("starts all five, prints curl commands, and Ctrl-C leaves nothing listening", async () => {
    const env = await portsEnv();
    const ports = [env.EDGEKV_SITE_PORT, env.EDGEKV_SPLITTER_PORT, env.EDGEKV_AUTH_PORT, env.EDGEKV_BLUE_PORT, env.EDGEKV_GREEN_PORT].map(Number);
    const run = start(env);
    try {
      await until(() => run.output().includes("Press Ctrl-C") || run.child.exitCode !== null, 150_000);
      expect(run.output()).toContain("Press Ctrl-C to stop everything.");
      expect(run.output()).toMatch(/Bearer ekv_\w+/);
      for (const port of ports) {
        const res = await fetch(`http://127.0.0.1:${port}/`);
        expect(res.status).toBeLessThan(500);
      }
      // The request log shows up, prefixed with the Worker's name.
      await until(() => /\[site\] GET \/ 200/.test(run.output()), 5_000);
    } finally {
      run.child.kill("SIGINT");
    }
    expect(await run.exited).toBe(0);
    for (const port of ports) expect(await portIsFree(port)).toBe(true);
    expect(run.output()).not.toContain("stopped unexpectedly");
  }, 200_000);

  it("a port already in use gives a clear message and exit 1, and starts nothing", async () => {
    const env = await portsEnv();
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(Number(env.EDGEKV_SPLITTER_PORT), "127.0.0.1", () => r()));
    try {
      const run = start(env);
      expect(await run.exited).toBe(1);
      expect(run.output()).toContain(`port ${env.EDGEKV_SPLITTER_PORT} (splitter) is already in use`);
      expect(run.output()).toContain("EDGEKV_SPLITTER_PORT=");
      expect(run.output()).not.toMatch(/\n\s+at /);
      expect(await portIsFree(Number(env.EDGEKV_SITE_PORT))).toBe(true);
    } finally {
      blocker.close();
    }
  }, 60_000);

  it("an invalid port setting is refused before anything starts", async () => {
    const env = { ...(await portsEnv()), EDGEKV_AUTH_PORT: "eighty" };
    const run = start(env);
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain('EDGEKV_AUTH_PORT must be a port number 1..65535, got "eighty"');
  }, 60_000);
});
