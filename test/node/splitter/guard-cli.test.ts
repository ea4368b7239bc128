/**
 * cli/rollout/guard.ts (issue 14): `rollout resume` and the guard in `rollout status`,
 * through the CLI's RolloutStore on a real local KV namespace (Miniflare).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeGuard, resumeGuard, resumedConfig } from "../../../cli/rollout/guard.ts";
import { RolloutStore } from "../../../cli/rollout/store.ts";
import type { KvBinding } from "../../../shared/kv/index.ts";
import { CONFIG_KEY, parseConfig, type RolloutConfig, type RolloutConfigInput } from "../../../workers/splitter/model.ts";
import { effectivePercent } from "../../../workers/splitter/schedule.ts";
import { runCli } from "../helpers/cli.ts";
import { readKeyWorker, startWithEnvBindings } from "../helpers/miniflare.ts";

const T0 = Date.parse("2026-11-20T10:00:00Z");
const MIN = 60_000;
const iso = (t: number) => new Date(t).toISOString();
const reason = "probe /health on green saw HTTP 503; 3 of 3 checks failed";

function config(over: Partial<RolloutConfigInput> = {}): RolloutConfig {
  const r = parseConfig({
    version: 3,
    live: "blue",
    origins: { blue: "https://blue.test", green: "https://green.test" },
    percent: 0,
    schedule: [
      { at: iso(T0), percent: 10 },
      { at: iso(T0 + 20 * MIN), percent: 50 },
      { at: iso(T0 + 60 * MIN), percent: 100 },
    ],
    guard: { probes: [{ path: "/health" }], action: "pause", trip: { at: iso(T0 + 30 * MIN), reason, action: "pause" } },
    ...over,
  });
  if (!r.ok) throw new Error(r.issues.join("; "));
  return r.config;
}

let dir: string;
let mf: Miniflare;
let kv: KvBinding;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-guard-cli-"));
  mf = await startWithEnvBindings("splitter", dir, readKeyWorker("ROLLOUT_KV"));
  // Miniflare's Node-side proxy of the real binding (its types are Miniflare's copy of the Workers types).
  kv = (await mf.getKVNamespace("ROLLOUT_KV")) as unknown as KvBinding;
});
afterAll(async () => {
  await mf?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe("describeGuard (rollout status)", () => {
  it("off, healthy, paused, rolled back", () => {
    expect(describeGuard(config({ guard: undefined }), T0)).toMatchObject({ state: "off", lines: ["guard:    off (no guard in the config)"] });
    const healthy = describeGuard(
      config({ guard: { probes: [{ path: "/health", status: [200, 204] }], action: "rollback", threshold: { failures: 2, of: 5 } } }),
      T0,
    );
    expect(healthy).toMatchObject({ state: "healthy", action: "rollback", since: null });
    expect(healthy.lines[1]).toContain("probes /health (200/204, 2000 ms); trips on 2 of 5 checks failing in one tick; then rolls back to 0%");
    const paused = describeGuard(config(), T0 + 42 * MIN);
    expect(paused).toMatchObject({ state: "paused", action: "pause", since: iso(T0 + 30 * MIN), reason });
    expect(paused.lines.slice(0, 3)).toEqual([
      `guard:    paused since ${iso(T0 + 30 * MIN)} (12 min ago)`,
      `          ${reason}`,
      "          run `edgekv rollout resume` once green is fixed",
    ]);
    const rolled = describeGuard(config({ guard: { probes: [{ path: "/h" }], action: "rollback", trip: { at: iso(T0), reason, action: "rollback" } } }), T0);
    expect(rolled.state).toBe("rolled-back");
    expect(rolled.lines[0]).toContain("rolled back since");
  });
});

describe("resumedConfig / resumeGuard (rollout resume)", () => {
  it("after a pause, the steps still ahead move later by the time paused: the ramp goes on from 50%", () => {
    const next = resumedConfig(config(), T0 + 45 * MIN);
    expect(next.guard?.trip).toBeUndefined();
    expect(next.schedule).toEqual([
      { at: iso(T0), percent: 10 },
      { at: iso(T0 + 20 * MIN), percent: 50 },
      { at: iso(T0 + 75 * MIN), percent: 100 },
    ]);
    expect(effectivePercent(next, T0 + 45 * MIN).percent).toBe(50);
    expect(effectivePercent(next, T0 + 75 * MIN).percent).toBe(100);
    expect(parseConfig(next).ok).toBe(true);
  });

  it("refuses without a guard or a trip", () => {
    expect(() => resumedConfig(config({ guard: undefined }), T0)).toThrow("no guard");
    expect(() => resumedConfig(config({ guard: { probes: [{ path: "/h" }], action: "pause" } }), T0)).toThrow("has not tripped");
  });

  it("writes the cleared config as a new version with a history entry, through RolloutStore", async () => {
    await kv.put(CONFIG_KEY, JSON.stringify(config()));
    const store = new RolloutStore(kv, () => T0 + 45 * MIN);
    const r = await resumeGuard(store, "alice@laptop", T0 + 45 * MIN);
    expect(r.config).toMatchObject({ version: 4, updatedBy: "alice@laptop" });
    expect(r.config.guard?.trip).toBeUndefined();
    expect(r.changes).toEqual(
      expect.arrayContaining([`- guard.trip.reason: ${JSON.stringify(reason)}`, `~ schedule.2.at: "${iso(T0 + 60 * MIN)}" -> "${iso(T0 + 75 * MIN)}"`]),
    );
    const [latest] = await store.history();
    expect(latest).toMatchObject({ version: 4, by: "alice@laptop", action: "resume" });
    await expect(resumeGuard(store, "alice@laptop", T0 + 46 * MIN)).rejects.toThrow("has not tripped");
  });
});

describe("the commands: rollout status shows the guard, rollout resume clears a trip", () => {
  it("status --json carries the guard; resume clears it once, then says there is nothing to resume", async () => {
    const state = await mkdtemp(join(tmpdir(), "edgekv-guard-cmd-"));
    try {
      const at = ["--persist-to", state];
      expect((await runCli(["rollout", "init", "--blue", "https://blue.test", "--green", "https://green.test", ...at])).code).toBe(0);
      const file = join(state, "tripped.json");
      const { version: _v, ...tripped } = config();
      await writeFile(file, JSON.stringify(tripped));
      expect((await runCli(["rollout", "config", "put", file, "--yes", ...at])).code).toBe(0);
      const status = JSON.parse((await runCli(["rollout", "status", "--json", ...at])).stdout) as { guard: { state: string; reason: string } };
      expect(status.guard).toMatchObject({ state: "paused", reason });
      const human = await runCli(["rollout", "status", ...at]);
      expect(human.stdout).toContain("run `edgekv rollout resume`");
      const resumed = await runCli(["rollout", "resume", "--json", ...at]);
      expect(resumed.code).toBe(0);
      expect((JSON.parse(resumed.stdout) as { config: RolloutConfig }).config.guard?.trip).toBeUndefined();
      expect(JSON.parse((await runCli(["rollout", "status", "--json", ...at])).stdout).guard.state).toBe("healthy");
      const again = await runCli(["rollout", "resume", ...at]);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain("has not tripped");
    } finally {
      await rm(state, { recursive: true, force: true });
    }
  });
});
