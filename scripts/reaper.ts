// The watchdog of one runner (`npm start`, the soak, the bench, a test worker):
// `node scripts/reaper.ts <runner pid> <grace ms>`, started by scripts/supervise.ts in its
// own session, its stdin a pipe from the runner. When that pipe closes (the
// runner exited, crashed, or was SIGKILLed: the kernel closes its end in every
// case), it ends what the runner left behind: the process groups the runner
// registered (`wrangler dev` and its workerd) and every descendant it saw
// (Miniflare's workerd, origin processes), SIGTERM first, SIGKILL after the grace.
// Descendants come from /proc (Linux, scripts/proc.ts); groups work anywhere.
import { descendants, stillRunning } from "./proc.ts";

/** Between two looks at the runner's descendants (the runner sends what it sees after each start, too). */
const SCAN_MS = 1_000;

const runner = Number(process.argv[2]);
/** How long the runner's leftovers get to exit on SIGTERM before SIGKILL (STOP_GRACE_MS). */
const GRACE_MS = Number(process.argv[3]);
if (!Number.isInteger(runner) || runner <= 1 || !(GRACE_MS >= 0)) process.exit(2);

/** pid -> its start time (field 22 of /proc/<pid>/stat), so a reused pid is never killed. */
const seen = new Map<number, string>();
const groups = new Set<number>();

/** Adds the runner's live descendants to `seen`, and forgets the ones that exited. */
function scan(): void {
  for (const [pid, start] of seen) if (!stillRunning({ pid, start })) seen.delete(pid);
  for (const p of descendants(runner)) if (p.pid !== process.pid) seen.set(p.pid, p.start);
}

/** Sends `sig` (0: only asks) to every registered group and seen descendant; true when any was still there. */
function signal(sig: NodeJS.Signals | 0): boolean {
  let any = false;
  for (const pgid of groups) {
    try {
      process.kill(-pgid, sig);
      any = true;
    } catch {
      groups.delete(pgid); // the group is gone
    }
  }
  for (const [pid, start] of seen) {
    try {
      if (!stillRunning({ pid, start })) throw new Error("exited, or the pid was reused");
      process.kill(pid, sig);
      any = true;
    } catch {
      seen.delete(pid);
    }
  }
  return any;
}

let reaping = false;
/** SIGTERM to everything left, SIGKILL to what still runs after the grace (at once with `now`), then exit. */
function reap(now = false): void {
  if (reaping && !now) return;
  reaping = true;
  if (!now && signal("SIGTERM")) {
    const end = Date.now() + GRACE_MS;
    const wait = setInterval(() => {
      if (signal(0) && Date.now() < end) return;
      clearInterval(wait);
      signal("SIGKILL");
      process.exit(0);
    }, 100);
    return;
  }
  signal("SIGKILL");
  process.exit(0);
}

// Lines from the runner: "+<pgid>" / "-<pgid>" (a group it started / that stopped), "p<pid> <start time>"
// (a descendant it saw: sent by the runner itself, so one started just before a SIGKILL is not missed), "k" (kill now).
let partial = "";
process.stdin.on("data", (d: Buffer) => {
  const lines = (partial + d.toString()).split("\n");
  partial = lines.pop() ?? "";
  for (const line of lines) {
    const n = Number(line.slice(1));
    if (line[0] === "+" && Number.isInteger(n) && n > 1) groups.add(n);
    else if (line[0] === "-") groups.delete(n);
    else if (line[0] === "p") {
      const [pid, start] = line.slice(1).split(" ");
      if (Number(pid) > 1 && Number(pid) !== process.pid && start) seen.set(Number(pid), start);
    } else if (line === "k") {
      scan();
      reap(true);
    }
  }
});
process.stdin.on("end", () => reap());
process.stdin.on("error", () => reap());
// Detached, so a terminal's SIGINT and SIGHUP never reach it; a SIGTERM still cleans up first.
for (const sig of ["SIGINT", "SIGHUP"] as const) process.on(sig, () => {});
process.on("SIGTERM", () => reap());
setInterval(() => {
  scan();
  try {
    process.kill(runner, 0);
  } catch {
    reap(); // the runner is gone although the pipe is not closed (someone else holds its end)
  }
}, SCAN_MS);
scan();
