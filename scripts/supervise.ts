// How a runner (`npm start`, the soak, the bench) keeps its children from
// outliving it. Two layers:
// - a stop it runs itself: each `wrangler dev` in its own process group (so
//   workerd, its grandchild, goes too), SIGTERM then SIGKILL after a bounded
//   grace; a second signal while stopping kills at once;
// - a watchdog (scripts/reaper.ts) for when the runner cannot: it holds a pipe
//   from the runner and, when the pipe closes (exit, crash, SIGKILL), ends the
//   registered groups and every descendant it saw.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { descendants } from "./proc.ts";

/** How long a child gets to exit on SIGTERM before SIGKILL. */
export const STOP_GRACE_MS = 3_000;
/** A runner that has not finished stopping by then exits anyway; the watchdog ends what is left. */
export const STOP_BOUND_MS = 8_000;
export const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];
const SIGNAL_NUMBER: Record<StopSignal, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

const REAPER = fileURLToPath(new URL("./reaper.ts", import.meta.url));
let reaper: ChildProcess | undefined;
const groups = new Set<number>();

function tell(line: string): void {
  if (!reaper) {
    reaper = spawn(process.execPath, [REAPER, String(process.pid), String(STOP_GRACE_MS)], { detached: true, stdio: ["pipe", "ignore", "ignore"] });
    reaper.on("error", () => {}); // no watchdog: the runner's own stop still works
    reaper.stdin?.on("error", () => {});
    reaper.unref();
    // Never what keeps the runner alive: its end closes when the runner exits.
    (reaper.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  }
  reaper.stdin?.write(`${line}\n`);
}

/** Ties a detached child's process group (its pid) to this process: it ends when this process dies, however. */
export function trackGroup(pgid: number): void {
  groups.add(pgid);
  tell(`+${pgid}`);
}

/**
 * The group's leader has exited: SIGKILL whatever it left in the group (a workerd
 * whose wrangler crashed keeps its port otherwise), and never signal that number again.
 */
export function releaseGroup(pgid: number): void {
  killGroup(pgid, "SIGKILL");
  groups.delete(pgid);
  if (reaper) tell(`-${pgid}`);
}

/**
 * After starting children that are not in a group of their own (Miniflare's workerd): hands the
 * watchdog every descendant of this process as it is now (a pid with its start time, so a reused
 * pid is never killed), so one started just before this process is SIGKILLed is not missed.
 */
export function watchChildren(): void {
  for (const p of descendants(process.pid)) if (p.pid !== reaper?.pid) tell(`p${p.pid} ${p.start}`);
}

function killGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    /* already gone */
  }
}

/**
 * Ends a detached child's whole process group (the child and what it spawned):
 * SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited.
 */
export async function stopGroup(child: ChildProcess, exited: Promise<unknown>, graceMs = STOP_GRACE_MS): Promise<void> {
  const pgid = child.pid;
  if (pgid === undefined) return;
  if (child.exitCode === null && child.signalCode === null) {
    killGroup(pgid, "SIGTERM");
    const timer = setTimeout(() => killGroup(pgid, "SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }
  releaseGroup(pgid);
}

/** Every tracked group: SIGTERM, then SIGKILL after the grace (children a runner has no handle on yet, mid-start). */
export async function stopTrackedGroups(graceMs = STOP_GRACE_MS): Promise<void> {
  const mine = [...groups];
  for (const pgid of mine) killGroup(pgid, "SIGTERM");
  const alive = (pgid: number) => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (const end = Date.now() + graceMs; mine.some(alive) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 100));
  for (const pgid of mine) releaseGroup(pgid);
}

/** Every tracked group, SIGKILL now, and the watchdog ends the rest (a second Ctrl-C). */
export function killEverythingNow(): void {
  for (const pgid of groups) killGroup(pgid, "SIGKILL");
  if (reaper) tell("k");
}

/**
 * SIGINT, SIGTERM and SIGHUP run `stop` once, bounded by STOP_BOUND_MS, then exit with
 * `exitCode(signal)` (default 128 + its number); a second signal while stopping kills
 * everything at once. Output after a closed terminal (SIGHUP) must not crash the stop.
 */
export function onStopSignals(stop: (signal: StopSignal) => Promise<void>, exitCode: (signal: StopSignal) => number = (s) => 128 + SIGNAL_NUMBER[s]): void {
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});
  let stopping = false;
  for (const signal of STOP_SIGNALS) {
    process.on(signal, () => {
      if (stopping) {
        killEverythingNow();
        process.exit(exitCode(signal));
      }
      stopping = true;
      const bound = setTimeout(() => {
        killEverythingNow();
        process.exit(exitCode(signal));
      }, STOP_BOUND_MS);
      bound.unref();
      void stop(signal)
        .catch(() => undefined)
        .then(() => process.exit(exitCode(signal)));
    });
  }
}
