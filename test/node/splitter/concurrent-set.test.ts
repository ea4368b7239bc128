// Issue 21: two operators at once lose nothing. Real concurrent `edgekv rollout set`
// processes on one state, local (two runtimes opening one SQLite state) and against
// the REST stand-in (scripts/cf-api.ts), several rounds each. KV has no
// compare-and-swap: the one writer (shared/rollout/write.ts) claims the version in
// the history, then checks after writing. Per round: never two successes for one
// version, every success has its history entry and its change stands, every
// failure is a clean non-zero exit saying why (never a hang).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, type CliResult } from "../helpers/cli.ts";
import { remoteProject, type RemoteProject } from "../helpers/remote.ts";
import { stateDir } from "../../security/helpers.ts";

const ROUNDS = 6;
/**
 * How a losing or crowded-out writer ends: one `edgekv:` error line (overwritten by
 * another writer; a runtime that could not start; two local runtimes on one SQLite
 * state can also fail a KV call with a 500), never a stack trace.
 */
const CLEAN_FAILURE = /^edgekv: (overwritten by (?:\S+|another writer) at v\d+; run again|cannot start the local runtime .*; run again|KV \w+ failed: .*)$/m;
/** A writer that never ends fails the round (the CLI must end with an error instead). */
const PROCESS_TIMEOUT_MS = 120_000;

interface Target {
  args: string[];
  env: Record<string, string>;
}

function withTimeout(p: Promise<CliResult>): Promise<CliResult> {
  return Promise.race([p, new Promise<CliResult>((_, reject) => setTimeout(() => reject(new Error("edgekv did not end (hang)")), PROCESS_TIMEOUT_MS))]);
}

async function rounds(t: Target): Promise<void> {
  const init = await runCli(["rollout", "init", "--blue", "https://blue.example.com", "--green", "https://green.example.com", "--yes", ...t.args], {
    env: t.env,
  });
  expect(init.code, init.stderr).toBe(0);
  let successes = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const writers = [
      { user: `op-a${round}`, percent: 10 + 2 * round },
      { user: `op-b${round}`, percent: 11 + 2 * round },
    ];
    const results = await Promise.all(
      // --allow-decrease: the writer that reads after its rival wrote the higher share steps down on purpose here
      // (the ramp guard is tested in test/node/cli/ramp.test.ts; this file is about two writers at once).
      writers.map((w) => withTimeout(runCli(["rollout", "set", String(w.percent), "--allow-decrease", ...t.args], { env: { ...t.env, EDGEKV_USER: w.user } }))),
    );
    const won: { user: string; percent: number; version: number }[] = [];
    results.forEach((r, i) => {
      const m = /wrote version (\d+)/.exec(r.stdout);
      if (r.code === 0 && m) won.push({ ...writers[i]!, version: Number(m[1]) });
      else {
        expect(r.code, `round ${round}: ${writers[i]!.user}: ${r.stderr}`).not.toBe(0);
        expect(r.stderr, `round ${round}: ${writers[i]!.user} exit ${r.code}`).toMatch(CLEAN_FAILURE);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }
    });
    // Never two successes for one version.
    expect(new Set(won.map((w) => w.version)).size, `round ${round}`).toBe(won.length);
    const history = JSON.parse((await runCli(["rollout", "history", "--json", ...t.args], { env: t.env })).stdout) as { version: number; by: string }[];
    for (const w of won)
      expect(
        history.filter((h) => h.version === w.version && h.by === w.user),
        `round ${round}: ${w.user} v${w.version}`,
      ).toHaveLength(1);
    // One entry per version: a writer that gave way left no entry for a config that never went live.
    expect(new Set(history.map((h) => h.version)).size).toBe(history.length);
    if (won.length) {
      // The last success's change stands: nothing reported as written was silently lost.
      const last = won.reduce((a, b) => (b.version > a.version ? b : a));
      const status = JSON.parse((await runCli(["rollout", "status", "--json", ...t.args], { env: t.env })).stdout) as {
        config: { version: number; percent: number; updatedBy: string };
      };
      expect(status.config, `round ${round}`).toMatchObject({ version: last.version, percent: last.percent, updatedBy: last.user });
    }
    successes += won.length;
  }
  // The rounds wrote something: the protocol does not just refuse everything.
  expect(successes).toBeGreaterThan(0);
}

describe("two concurrent `rollout set` lose nothing", () => {
  let state: Awaited<ReturnType<typeof stateDir>>;
  let remote: RemoteProject;
  beforeAll(async () => {
    state = await stateDir("concurrent-set");
    remote = await remoteProject();
  });
  afterAll(async () => {
    await state?.remove();
    await remote?.close();
  });

  it(`on one local state, ${ROUNDS} rounds`, () => rounds({ args: ["--persist-to", state.dir], env: {} }), 20 * 60_000);

  it(`against the REST stand-in (--remote), ${ROUNDS} rounds`, () => rounds({ args: ["--remote", "--config", remote.config], env: remote.env }), 10 * 60_000);
});
