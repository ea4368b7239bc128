// Stopping `npm start` leaves nothing running, however it is stopped: Ctrl-C
// (SIGINT), SIGTERM, a closed terminal (SIGHUP), and the runner itself killed
// (SIGKILL, where only its watchdog, scripts/reaper.ts, can clean up). One full
// start per signal, one after the other, on free ports and one state folder.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { descendants, stillRunning, type ProcInfo } from "../../../scripts/proc.ts";
import { ROOT } from "../helpers/cli.ts";
import { freePort, portIsFree } from "../helpers/ports.ts";

/** The bound: every port free and every process gone within 15 s of the signal. */
const GONE_WITHIN_MS = 15_000;
const PORT_VARS = ["EDGEKV_SITE_PORT", "EDGEKV_SPLITTER_PORT", "EDGEKV_AUTH_PORT", "EDGEKV_BLUE_PORT", "EDGEKV_GREEN_PORT"];
const INSPECTOR_VARS = ["EDGEKV_SITE_INSPECTOR_PORT", "EDGEKV_SPLITTER_INSPECTOR_PORT", "EDGEKV_AUTH_INSPECTOR_PORT"];

let state: string | undefined;
const leftovers: ProcInfo[] = [];
afterAll(async () => {
  // A failed run must not leave its Workers to the next test file.
  for (const p of leftovers) if (stillRunning(p)) process.kill(p.pid, "SIGKILL");
  if (state) await rm(state, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startRun(): Promise<{ pid: number; env: Record<string, string>; output: () => string; exited: Promise<number | null> }> {
  state ??= await mkdtemp(join(tmpdir(), "edgekv-signals-"));
  const env: Record<string, string> = { EDGEKV_PERSIST_TO: state };
  for (const name of [...PORT_VARS, ...INSPECTOR_VARS]) env[name] = String(await freePort());
  const child = spawn(process.execPath, [join(ROOT, "scripts", "start.ts")], {
    cwd: ROOT,
    env: { ...process.env, ...env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  // A SIGKILLed runner never emits "exit" with a code; "close" waits for the pipes, which wrangler may hold.
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const end = Date.now() + 150_000;
  while (!out.includes("Press Ctrl-C") && child.exitCode === null && Date.now() < end) await sleep(200);
  if (!out.includes("Press Ctrl-C")) {
    child.kill("SIGKILL");
    throw new Error(`npm start did not come up:\n${out}`);
  }
  return { pid: child.pid!, env, output: () => out, exited };
}

describe("stopping npm start leaves nothing running", () => {
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP", "SIGKILL"] as const) {
    it(`${signal} to the runner: every port it opened is free and no wrangler or workerd of the run remains within 15 s`, async () => {
      const run = await startRun();
      // What the run started: wrangler (node) and workerd, each `wrangler dev` in its own process group, and the watchdog.
      const started = descendants(run.pid);
      leftovers.push(...started);
      expect(started.filter((p) => p.comm === "workerd").length).toBeGreaterThanOrEqual(3);
      const ports = [...PORT_VARS, ...INSPECTOR_VARS].map((name) => Number(run.env[name]));
      for (const port of ports.slice(0, PORT_VARS.length)) expect(await portIsFree(port)).toBe(false);

      process.kill(run.pid, signal);
      const code = await run.exited;
      if (signal !== "SIGKILL") expect(code, run.output()).toBe(0);

      const end = Date.now() + GONE_WITHIN_MS;
      let left: ProcInfo[] = started;
      let busy: number[] = ports;
      while (Date.now() < end) {
        left = started.filter(stillRunning);
        busy = [];
        for (const port of ports) if (!(await portIsFree(port))) busy.push(port);
        if (left.length === 0 && busy.length === 0) break;
        await sleep(250);
      }
      expect(left.map((p) => `${p.pid} ${p.comm}`)).toEqual([]);
      expect(busy).toEqual([]);
    }, 240_000);
  }
});
