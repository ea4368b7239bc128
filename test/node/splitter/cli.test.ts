import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readOverride } from "../../../workers/splitter/override.ts";
import { parseConfig, type RolloutConfig } from "../../../workers/splitter/model.ts";
import { cli, runCli } from "../helpers/cli.ts";

let dir: string;
const T0 = Date.parse("2026-11-20T10:00:00Z");
let clock = T0;
const run = (...args: string[]) => cli(["rollout", ...args, "--persist-to", dir], { now: () => clock });
const json = async <T>(...args: string[]) => {
  const r = await run(...args, "--json");
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as T;
};
const status = () => json<{ effective: { percent: number; step: number }; config: RolloutConfig }>("status");
// KV allows one write per second per key; the store retries 429s, this keeps tests from leaning on it.
const tick = () => new Promise((r) => setTimeout(r, 1_050));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-rollout-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("edgekv rollout: a 10 -> 20 -> 80 -> 100 rollout and rollbacks", () => {
  it("refuses to work before init, with a hint", async () => {
    const r = await run("status");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no rollout config yet; run `edgekv rollout init");
  });

  it("init writes version 1, validated; a second init needs --force", async () => {
    const r = await run("init", "--blue", "https://blue.test", "--green", "https://green.test", "--salt", "s1");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("wrote version 1 (init)");
    const s = await status();
    expect(s.config).toMatchObject({ version: 1, live: "blue", percent: 0, salt: "s1", updatedAt: new Date(T0).toISOString() });
    const again = await run("init", "--blue", "https://blue.test", "--green", "https://green.test");
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already exists (version 1); use --force");
  });

  it("set 10, 20, 80 then promote: versions increase and the roles swap", async () => {
    for (const [p, v] of [
      ["10", 2],
      ["20", 3],
      ["80%", 4],
    ] as const) {
      await tick();
      const r = await run("set", p);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`wrote version ${v}`);
    }
    expect((await status()).config).toMatchObject({ version: 4, percent: 80, live: "blue" });
    await tick();
    const unconfirmed = await run("promote");
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain("not confirmed: promote");
    expect(unconfirmed.stderr).toContain("add --yes");
    expect((await run("promote", "--yes")).code).toBe(0);
    expect((await status()).config).toMatchObject({ version: 5, percent: 0, live: "green" });
    const human = await run("status");
    expect(human.stdout).toContain("now:      0% to blue, 100% to green");
  });

  it("refuses invalid input naming the field (exit 2, before KV is opened), and writes nothing", async () => {
    for (const [args, msg] of [
      [["set", "150"], "invalid rollout config: PERCENT: must be at most 100"],
      [["set", "-5"], "invalid rollout config: PERCENT: must be at least 0"],
      [["set", "10.555"], "PERCENT: must have at most two decimals"],
      [["schedule", "20@+10m", "10@+5m"], "schedule: steps must be in strictly increasing time order"],
      [["schedule", "120@+1m"], "schedule.0.percent: must be at most 100"],
      [["schedule", "20@+10m", "10@+20m"], "the ramp goes down at step 2 (20% -> 10%)"],
    ] as const) {
      const r = await run(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(msg);
    }
    const usage = await run("set", "ten");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('PERCENT must be a number, got "ten"');
    expect((await run("schedule", "20@soon")).stderr).toContain('bad step time "soon"');
    expect((await status()).config.version).toBe(5);
  });

  it("schedule: the percentage follows the (injected) clock with no further write", async () => {
    await tick();
    const r = await run("schedule", "10@now", "20@+10m", "80@+30m", "100@+1h");
    expect(r.code).toBe(0);
    const at = async (min: number) => {
      clock = T0 + min * 60_000;
      return (await status()).effective.percent;
    };
    expect([await at(0), await at(9), await at(10), await at(45), await at(90)]).toEqual([10, 10, 20, 80, 100]);
    expect((await status()).config.version).toBe(6);
    clock = T0;
  });

  it("rollback: 0% at once and the schedule cleared", async () => {
    await tick();
    const r = await run("rollback");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("- schedule.0.at");
    const s = await status();
    expect(s.config).toMatchObject({ version: 7, percent: 0 });
    expect(s.config.schedule).toBeUndefined();
    expect(s.effective.percent).toBe(0);
  });

  it("history is the audit trail (who, when, what changed), and rollback --to restores a version", async () => {
    const h = await json<{ version: number; by: string; action: string; changes: string[]; at: string }[]>("history");
    expect(h.map((e) => e.version)).toEqual([7, 6, 5, 4, 3, 2, 1]);
    expect(h.find((e) => e.version === 3)).toMatchObject({
      action: "set 20%",
      changes: ["~ in force: 10% -> 20% to green", "~ percent: 10 -> 20"],
      at: new Date(T0).toISOString(),
    });
    expect(h[0]!.by).toBeTruthy();
    await tick();
    expect((await run("rollback", "--to", "3")).stderr).toContain("not confirmed: replace the rollout config with version 3's");
    const r = await run("rollback", "--to", "3", "--yes");
    expect(r.code).toBe(0);
    expect((await status()).config).toMatchObject({ version: 8, percent: 20, live: "blue" });
    expect((await run("rollback", "--to", "99", "--yes")).stderr).toContain("no history entry for version 99");
  });

  it("config get prints the document; config put validates, shows the diff and writes", async () => {
    const got = await run("config", "get");
    const doc = JSON.parse(got.stdout) as RolloutConfig;
    expect(parseConfig(doc).ok).toBe(true);
    const file = join(dir, "next.json");
    await writeFile(file, JSON.stringify({ ...doc, percent: 30, rules: [{ match: { path: "/beta/*" }, to: "green" }] }));
    const dry = await run("config", "put", file, "--dry-run");
    expect(dry.stdout).toContain("~ percent: 20 -> 30");
    expect((await status()).config.version).toBe(8);
    await tick();
    expect((await run("config", "put", file)).code).toBe(2); // not confirmed
    const put = await run("config", "put", file, "--yes");
    expect(put.code).toBe(0);
    expect(put.stdout).toContain("wrote version 9");
    expect(put.stdout).toContain('+ rules.0.to: "green"');
    await writeFile(file, JSON.stringify({ ...doc, live: "red", origins: { blue: "nope", green: "https://g.test" } }));
    const bad = await run("config", "put", file, "--yes");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('live: must be "blue" or "green"');
    expect(bad.stderr).toContain("origins.blue: must be an absolute http(s) URL");
    await writeFile(file, "{ nope");
    expect((await run("config", "put", file)).stderr).toContain(`cannot read ${file}`);
    expect((await status()).config.version).toBe(9);
  });

  it("override takes OVERRIDE_SECRET from the environment (real binary) and prints a value the Worker accepts", async () => {
    const secret = "k3y-from-the-environment-32-bytes-or-more";
    const r = await runCli(["rollout", "override", "green", "--ttl", "2h", "--json"], { env: { OVERRIDE_SECRET: secret } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(secret);
    const { value } = JSON.parse(r.stdout) as { value: string };
    const names = { cookie: "edgekv_override", header: "x-edgekv-override" };
    expect(await readOverride(new Headers({ "x-edgekv-override": value }), names, secret, Date.now())).toBe("green");
    expect(await readOverride(new Headers({ "x-edgekv-override": value }), names, "other", Date.now())).toBeNull();
  });

  it("override reads the secret from stdin (--secret-stdin, or a pipe with the variable unset), trailing newline dropped", async () => {
    const secret = "k3y from stdin, 32 bytes or more (spaces kept)";
    const names = { cookie: "edgekv_override", header: "x-edgekv-override" };
    const accepts = async (out: string) => readOverride(new Headers({ "x-edgekv-override": out.split("\n")[0]! }), names, secret, Date.now());
    // --secret-stdin wins over the environment.
    const flagged = await runCli(["rollout", "override", "blue", "--secret-stdin"], { input: `${secret}\n`, env: { OVERRIDE_SECRET: "not this one" } });
    expect(flagged.code, flagged.stderr).toBe(0);
    expect(await accepts(flagged.stdout)).toBe("blue");
    const piped = await runCli(["rollout", "override", "green"], { input: `${secret}\r\n`, env: { OVERRIDE_SECRET: "" } });
    expect(piped.code, piped.stderr).toBe(0);
    expect(await accepts(piped.stdout)).toBe("green");
    for (const r of [flagged, piped]) expect(r.stdout + r.stderr).not.toContain(secret);
  });

  it("override refuses --secret on the command line (exit 2, says why), and never echoes a secret", async () => {
    for (const args of [["--secret", "s3cret-on-argv"], ["--secret=s3cret-on-argv"]]) {
      const r = await runCli(["rollout", "override", "green", ...args], { env: { OVERRIDE_SECRET: "fine" } });
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toContain("--secret is refused: ps and shell history keep the command line");
      expect(r.stderr).toContain("OVERRIDE_SECRET");
      expect(r.stdout).toBe("");
      expect(r.stderr).not.toContain("s3cret-on-argv");
    }
    // A secret typed where COLOR goes is not repeated back either.
    const swapped = await runCli(["rollout", "override", "s3cret-on-argv"], { env: { OVERRIDE_SECRET: "fine" } });
    expect(swapped.code).toBe(2);
    expect(swapped.stderr).toContain("COLOR must be blue or green");
    expect(swapped.stderr).not.toContain("s3cret-on-argv");
    // A secret the splitter would ignore (shorter than MIN_SECRET_BYTES) signs nothing, and is not echoed.
    const weak = await runCli(["rollout", "override", "green"], { env: { OVERRIDE_SECRET: "short-s3cret" } });
    expect(weak.code).toBe(1);
    expect(weak.stderr).toContain("OVERRIDE_SECRET is shorter than 32 bytes");
    expect(weak.stderr).toContain("openssl rand -base64 32");
    expect(weak.stdout).toBe("");
    expect(weak.stderr).not.toContain("short-s3cret");
    // Neither variable nor pipe: a usage error naming both.
    const none = await cli(["rollout", "override", "green"], { env: { OVERRIDE_SECRET: undefined }, input: "" });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("no OVERRIDE_SECRET on stdin");
    const tty = { isTTY: true, read: () => Promise.reject(new Error("a terminal must not be read")) };
    const onTerminal = await cli(["rollout", "override", "green"], { env: { OVERRIDE_SECRET: undefined }, stdin: tty });
    expect(onTerminal.code).toBe(2);
    expect(onTerminal.stderr).toContain("set OVERRIDE_SECRET in the environment or pipe it in with --secret-stdin");
    const flagOnTerminal = await cli(["rollout", "override", "green", "--secret-stdin"], { stdin: tty });
    expect(flagOnTerminal.stderr).toContain("stdin is a terminal");
  });

  it("works through the real binary too", async () => {
    const r = await runCli(["rollout", "status", "--json", "--persist-to", dir]);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { config: RolloutConfig }).config.version).toBe(9);
  });
});
