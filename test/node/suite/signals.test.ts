// Stopping `npm start` leaves nothing running, however it is stopped: Ctrl-C
// (SIGINT), SIGTERM, a closed terminal (SIGHUP), and the runner itself killed
// (SIGKILL, where only its watchdog, scripts/reaper.ts, can clean up). One full
// start per signal, one after the other, on free ports and one state folder.
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { descendants, stillRunning, type ProcInfo } from "../../../scripts/proc.ts";
import { ROOT } from "../helpers/cli.ts";
import { freePort, portIsFree } from "../helpers/ports.ts";

/** The bound: every port free and every process gone within 15 s of the signal. */
const GONE_WITHIN_MS = 15_000;
const PORT_VARS = ["EDGEKV_SITE_PORT", "EDGEKV_SPLITTER_PORT", "EDGEKV_AUTH_PORT", "EDGEKV_BLUE_PORT", "EDGEKV_GREEN_PORT", "EDGEKV_CONTROL_PORT"];
const INSPECTOR_VARS = ["EDGEKV_SITE_INSPECTOR_PORT", "EDGEKV_SPLITTER_INSPECTOR_PORT", "EDGEKV_AUTH_INSPECTOR_PORT", "EDGEKV_CONTROL_INSPECTOR_PORT"];

let state: string | undefined;
const dirs: string[] = [];
const leftovers: ProcInfo[] = [];
afterAll(async () => {
  // A failed run must not leave its Workers to the next test file.
  for (const p of leftovers) if (stillRunning(p)) process.kill(p.pid, "SIGKILL");
  for (const dir of [state, ...dirs]) if (dir) await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until every process in `started` has exited and every port is free, or the bound passes; returns what is left. */
async function leftAfter(started: ProcInfo[], ports: number[]): Promise<{ left: string[]; busy: number[] }> {
  const end = Date.now() + GONE_WITHIN_MS;
  for (;;) {
    const left = started.filter(stillRunning).map((p) => `${p.pid} ${p.comm}`);
    const busy: number[] = [];
    for (const port of ports) if (!(await portIsFree(port))) busy.push(port);
    if ((left.length === 0 && busy.length === 0) || Date.now() > end) return { left, busy };
    await sleep(250);
  }
}

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

      expect(await leftAfter(started, ports)).toEqual({ left: [], busy: [] });
    }, 240_000);
  }
});

/**
 * A small runner built like npm start, bench and soak: a process group (like `wrangler dev`) whose
 * leader and grandchild ignore SIGTERM, and a plain child in the runner's own group (like Miniflare's
 * workerd) that ignores it too. Children that will not stop must not outlive the runner either.
 */
const SMALL_RUNNER = (supervise: string) => `
import { spawn } from "node:child_process";
import { onStopSignals, stopTrackedGroups, trackGroup, watchChildren } from ${JSON.stringify(supervise)};
const stubborn = 'process.on("SIGTERM", () => {}); setInterval(() => {}, 1000);';
const leader = \`\${stubborn} require("node:child_process").spawn(process.execPath, ["-e", \${JSON.stringify(stubborn)}], { stdio: "ignore" });\`;
const group = spawn(process.execPath, ["-e", leader], { detached: true, stdio: "ignore" });
trackGroup(group.pid);
spawn(process.execPath, ["-e", stubborn], { stdio: "ignore" });
await new Promise((r) => setTimeout(r, 300)); // the group leader has started its child
watchChildren();
onStopSignals(() => stopTrackedGroups());
console.log("ready");
setInterval(() => {}, 1000);
`;

describe("the supervision layer, with children that ignore SIGTERM", () => {
  for (const signals of [["SIGINT"], ["SIGKILL"], ["SIGTERM", "SIGKILL"], ["SIGHUP", "SIGINT"]] as const) {
    it(`${signals.join(" then ")} to the runner: its group and its plain children are gone within 15 s`, async () => {
      const dir = await mkdtemp(join(tmpdir(), "edgekv-small-runner-"));
      dirs.push(dir);
      const script = join(dir, "runner.ts");
      await writeFile(script, SMALL_RUNNER(pathToFileURL(join(ROOT, "scripts", "supervise.ts")).href));
      const child = spawn(process.execPath, [script], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
      const exited = new Promise<NodeJS.Signals | number | null>((r) => child.once("exit", (code, sig) => r(sig ?? code)));
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      for (const end = Date.now() + 30_000; !out.includes("ready") && child.exitCode === null && Date.now() < end; ) await sleep(50);
      expect(out).toContain("ready");
      const started = descendants(child.pid!);
      leftovers.push(...started);
      // The group's leader and grandchild, the plain child, the watchdog.
      expect(started.length).toBeGreaterThanOrEqual(4);
      // A signal while stopping (the second): a SIGKILL mid-stop, or a second Ctrl-C that kills at once.
      for (const signal of signals) process.kill(child.pid!, signal);
      const how = await exited;
      const last: string = signals.at(-1)!;
      const codes: Record<string, number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };
      // Stopped by its own handler: 128 + a signal's number (two sent at once may be handled in either order).
      if (last !== "SIGKILL") expect(signals.map((s) => codes[s])).toContain(how);
      expect(await leftAfter(started, [])).toEqual({ left: [], busy: [] });
    }, 60_000);
  }
});
