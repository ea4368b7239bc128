// A process's descendants from /proc (Linux): shared by the watchdog
// (scripts/reaper.ts) and the tests that check nothing outlives a runner.
import { readFileSync, readdirSync } from "node:fs";

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** Start time (field 22 of /proc/<pid>/stat): a reused pid has another one. */
  start: string;
  comm: string;
}

/** One process's parent, start time and name; null when it is gone (or there is no /proc). */
export function procInfo(pid: number): ProcInfo | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm is in parentheses and may hold spaces; fields after the ")" start at field 3 (state).
    const close = text.lastIndexOf(")");
    const fields = text.slice(close + 2).split(" ");
    return { pid, ppid: Number(fields[1]), start: fields[19] ?? "", comm: text.slice(text.indexOf("(") + 1, close) };
  } catch {
    return null;
  }
}

/** Every live descendant of `root` (children, grandchildren...), empty without /proc. */
export function descendants(root: number): ProcInfo[] {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return [];
  }
  const children = new Map<number, ProcInfo[]>();
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const info = procInfo(Number(name));
    if (!info) continue;
    children.set(info.ppid, [...(children.get(info.ppid) ?? []), info]);
  }
  const out: ProcInfo[] = [];
  const queue = [root];
  while (queue.length) {
    for (const c of children.get(queue.pop()!) ?? []) {
      out.push(c);
      queue.push(c.pid);
    }
  }
  return out;
}

/** The same process still runs (not a new one with its pid). */
export const stillRunning = (p: Pick<ProcInfo, "pid" | "start">): boolean => procInfo(p.pid)?.start === p.start;
