// Issue 22 point 2: a ramp never moves users back unless asked. Every write that lowers the
// share in force (set, a schedule's first or later step, config put, init --force) needs
// --allow-decrease (--yes is not enough) or a "y" typed on a terminal; without a terminal it
// is refused with exit 2 and a hint, nothing written. The diff and the history show the
// effective change. The real CLI (main(), the binary's code path) on real local state.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../../cli/main.ts";
import { textStdin } from "../../../cli/secret-input.ts";
import { cli, ROOT } from "../helpers/cli.ts";

let dir: string;
let state: string[];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-ramp-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
let n = 0;
beforeEach(async () => {
  // A fresh state folder per test: blue live, 50% to green.
  state = ["--persist-to", join(dir, `state-${n++}`)];
  expect((await cli(["rollout", "init", "--blue", "https://blue.test", "--green", "https://green.test", "--percent", "50", ...state])).code).toBe(0);
});

const status = async () =>
  JSON.parse((await cli(["rollout", "status", "--json", ...state])).stdout) as { effective: { percent: number }; config: { version: number; live: string } };
const history = async () => JSON.parse((await cli(["rollout", "history", "--json", ...state])).stdout) as { action: string; changes: string[] }[];

/** Refused without a terminal: exit 2, the effective change and the flag named, nothing written. */
async function refused(args: string[], change: RegExp): Promise<void> {
  const before = await status();
  const r = await cli([...args, ...state]);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe("");
  expect(r.stderr).toMatch(change);
  expect(r.stderr).toContain("--allow-decrease");
  expect(await status()).toEqual(before);
}

/** main() as on a terminal, answering `answer` to any question; returns the exit code and the questions asked. */
async function onTerminal(args: string[], answer: string): Promise<{ code: number; asked: string[]; stdout: string }> {
  const asked: string[] = [];
  let stdout = "";
  const code = await main([...args, ...state], {
    stdout: (s) => (stdout += `${s}\n`),
    stderr: () => {},
    isTTY: false,
    interactive: true,
    ask: async (q) => {
      asked.push(q);
      return answer;
    },
    cwd: ROOT,
    stdin: textStdin(""),
  });
  return { code, asked, stdout };
}

describe("a write that lowers the share in force is refused without --allow-decrease", () => {
  it("set 50 then schedule 10@now: refused (exit 2), the share stays 50%", async () => {
    await refused(["rollout", "schedule", "10@now"], /50% -> 10% to green now/);
    expect((await status()).effective.percent).toBe(50);
  });

  it("a later step below the share in force is refused too, naming its time", async () => {
    const up = await cli(["rollout", "schedule", "60@+10m", "70@+20m", ...state]);
    expect(up.code, up.stderr).toBe(0);
    await refused(["rollout", "schedule", "30@+1h"], /50% -> 30% to green at \d{4}-/);
  });

  it("set, config put (even with --yes) and init --force --yes", async () => {
    await refused(["rollout", "set", "20"], /set 20%: 50% -> 20% to green now \(moves 30% of users back to blue\)/);
    await refused(["rollout", "set", "0", "--yes"], /50% -> 0%/);
    const file = join(dir, `low-${n}.json`);
    const current = JSON.parse((await cli(["rollout", "config", "get", ...state])).stdout) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...current, percent: 10 }));
    await refused(["rollout", "config", "put", file, "--yes"], /50% -> 10% to green/);
    // The dry run says so, with the share in force first.
    const dry = await cli(["rollout", "config", "put", file, "--dry-run", ...state]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("~ in force: 50% -> 10% to green");
    expect(dry.stdout).toContain("! moves users back");
    // The whole config swapped for one with the other colour live is a decrease for green as well.
    await writeFile(file, JSON.stringify({ ...current, live: "green", percent: 90 }));
    await refused(["rollout", "config", "put", file, "--yes"], /50% -> 10% to green/);
    await refused(["rollout", "init", "--blue", "https://blue.test", "--green", "https://green.test", "--force", "--yes"], /50% -> 0%/);
  });

  it("with --allow-decrease it goes ahead; the output and the history show 50% -> 10%", async () => {
    const r = await cli(["rollout", "schedule", "10@now", "--allow-decrease", ...state]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("~ in force: 50% -> 10% to green");
    expect((await status()).effective.percent).toBe(10);
    const [latest] = await history();
    expect(latest!.action).toBe("schedule 10@now");
    expect(latest!.changes[0]).toBe("~ in force: 50% -> 10% to green");
  });

  it("on a terminal it asks (--yes does not skip that question): y goes ahead, anything else aborts", async () => {
    const no = await onTerminal(["rollout", "set", "20", "--yes"], "n");
    expect(no.code).toBe(1);
    expect(no.asked).toEqual([expect.stringMatching(/set 20%: 50% -> 20% to green now .*\? \[y\/N\] $/)]);
    expect((await status()).effective.percent).toBe(50);
    const yes = await onTerminal(["rollout", "set", "20"], "y");
    expect(yes.code).toBe(0);
    expect((await status()).effective.percent).toBe(20);
  });
});

describe("writes that do not move users back go ahead without a question", () => {
  it("going up, the same share, promote, a new ramp after promote, and rollback (whose job it is)", async () => {
    for (const args of [
      ["rollout", "set", "60"],
      ["rollout", "schedule", "60@now", "80@+10m"],
      ["rollout", "set", "80"],
    ]) {
      const r = await cli([...args, ...state]);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
    }
    const promote = await cli(["rollout", "promote", "--yes", ...state]);
    expect(promote.code, promote.stderr).toBe(0);
    expect(promote.stdout).toContain("~ in force: 80% -> 100% to green");
    // Green is live now: the next ramp goes to blue, and going up is not a decrease.
    const next = await cli(["rollout", "set", "10", ...state]);
    expect(next.code, next.stderr).toBe(0);
    expect((await status()).config.live).toBe("green");
    const back = await cli(["rollout", "rollback", ...state]);
    expect(back.code, back.stderr).toBe(0);
    expect((await history())[0]!.changes[0]).toBe("~ in force: 10% -> 0% to blue");
  });

  it("config get > file, config put file: no change, no question", async () => {
    const file = join(dir, `same-${n}.json`);
    await writeFile(file, (await cli(["rollout", "config", "get", ...state])).stdout);
    const r = await cli(["rollout", "config", "put", file, "--yes", ...state]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("nothing to change");
  });
});
