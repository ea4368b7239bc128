/**
 * Attack class: secrets on the command line. Every process's argv is readable by
 * every local user (`ps`, /proc/PID/cmdline) and lands in shell history on disk,
 * so a secret that the CLI accepts there is a leaked secret. Also: a secret the
 * CLI repeats in its output ends up in terminal scrollback, CI logs and bug reports.
 *
 * Everything runs the real `edgekv` binary in a child process. For every command
 * that handles a secret (an edgekv token; OVERRIDE_SECRET) and every argv form
 * that could carry it (positional, the command's own options, `--opt=value`,
 * unknown options, after `--`, in another command), the CLI must refuse with a
 * usage error (exit 2), change nothing, and never print the secret. The safe
 * forms (stdin, the environment, `--id`) must work end to end: a token revoked
 * through stdin gets 401 from a real gate under `wrangler dev`, which then
 * forwards nothing. A secret appears in output only where printing it is the
 * command's job, once: `token issue` printing the new token.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateToken } from "../../workers/auth/token.ts";
import { readOverride } from "../../workers/splitter/override.ts";
import { runCli, type CliResult } from "../node/helpers/cli.ts";
import type { DevServer } from "../node/helpers/wrangler-dev.ts";
import { startGate, startOrigin, stateDir, type Origin } from "./helpers.ts";

/** Child processes at once (each is a Node start, ~0.5 s). */
const PARALLEL = 8;
/** Generated argv forms per property. */
const RUNS = 48;
/** Dozens of Node starts per test; a busy machine (the whole `npm test`) can take minutes. */
const TEST_TIMEOUT_MS = 180_000;
const OVERRIDE_NAMES = { cookie: "edgekv_override", header: "x-edgekv-override" };

let state: { dir: string; remove(): Promise<void> };
let origin: Origin;
let gate: DevServer;
/** A live token, issued through the binary: it must survive every refused form. */
let live: string;

const p = () => ["--persist-to", state.dir];
const idOf = (t: string) => createHash("sha256").update(t).digest("hex").slice(0, 12);
const everything = (r: CliResult) => r.stdout + r.stderr;
const gateStatus = async (token: string) => {
  const res = await fetch(`${gate.url}/api/x`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
};

/** Runs argv lists through the binary, PARALLEL at a time, in order. */
async function runAll(runs: { args: string[]; input?: string; env?: Record<string, string> }[]): Promise<CliResult[]> {
  const out: CliResult[] = [];
  for (let i = 0; i < runs.length; i += PARALLEL) {
    out.push(...(await Promise.all(runs.slice(i, i + PARALLEL).map((r) => runCli(r.args, { input: r.input ?? "", env: r.env ?? {} })))));
  }
  return out;
}

/** No trace of `secret` in `text`: neither whole nor a 12-character piece of it (a truncated echo is still a leak). */
function expectNoTrace(text: string, secret: string, what: string): void {
  expect(text.includes(secret), `${what}: printed the secret`).toBe(false);
  for (let i = 0; i + 12 <= secret.length; i += 6) expect(text.includes(secret.slice(i, i + 12)), `${what}: printed part of the secret`).toBe(false);
}

beforeAll(async () => {
  state = await stateDir("cli-argv");
  origin = await startOrigin("app");
  const issued = await runCli(["token", "issue", "--user", "victim", "--name", "laptop", ...p()]);
  expect(issued.code, issued.stderr).toBe(0);
  live = issued.stdout.trim();
  // ALLOW_CACHE_SECONDS=0: a revocation shows on the next request.
  gate = await startGate(state.dir, origin.url, { ALLOW_CACHE_SECONDS: "0" });
});

afterAll(async () => {
  await gate?.stop();
  await origin?.close();
  await state?.remove();
});

describe("edgekv tokens never travel on argv", { timeout: TEST_TIMEOUT_MS }, () => {
  it("token issue prints the new token exactly once, on stdout; list and revoke never print one", async () => {
    expect(live).toMatch(/^ekv_[0-9A-Za-z]{30}$/);
    const json = await runCli(["token", "issue", "--user", "victim", "--json", ...p()]);
    expect(json.code).toBe(0);
    const { token } = JSON.parse(json.stdout) as { token: string };
    expect(json.stdout.split(token)).toHaveLength(2);
    expectNoTrace(json.stderr, token, "issue --json stderr");
    const list = await runCli(["token", "list", "--json", ...p()]);
    expect(list.code).toBe(0);
    for (const t of [live, token]) expectNoTrace(list.stdout + list.stderr, t, "token list");
    const revoked = await runCli(["token", "revoke", "--stdin", ...p()], { input: `${token}\n` });
    expect(revoked.code, revoked.stderr).toBe(0);
    expectNoTrace(everything(revoked), token, "token revoke --stdin");
    expect(await gateStatus(live)).toBe(200);
  });

  it("every argv form that carries a token is refused (exit 2) and never echoed; nothing is revoked", async () => {
    const spare = generateToken(); // well-formed but never issued: refused the same way
    const where = fc.constantFrom<(t: string) => string[]>(
      (t) => [t],
      (t) => ["--id", t],
      (t) => [`--id=${t}`],
      (t) => ["--user", t],
      (t) => [`--user=${t}`],
      (t) => ["--name", `label ${t}`],
      (t) => [`--name=${t}`],
      (t) => ["--token", t],
      (t) => [`--token=${t}`],
      (t) => [`--stdin=${t}`],
      (t) => ["--secret", t],
      (t) => [`--secret=${t}`],
      (t) => ["--", t],
      (t) => ["--verbose", "--json", t],
      (t) => [`Bearer ${t}`],
      (t) => [`authorization: Bearer ${t}`],
    );
    const command = fc.constantFrom(
      ["token", "revoke"],
      ["token", "revoke", "--stdin"],
      ["token", "issue", "--user", "u"],
      ["token", "list"],
      ["token"],
      ["rollout", "override", "green"],
      ["rollout", "status"],
      ["kv", "get", "k", "--env", "auth"],
      ["kv", "put", "k", "--env", "auth"],
      ["site", "versions"],
      [],
    );
    const cases = fc.sample(fc.record({ command, where, token: fc.constantFrom(live, spare), first: fc.boolean() }), { numRuns: RUNS, seed: 10 });
    const runs = cases.map(({ command, where, token, first }) => {
      const carried = where(token);
      // Before or after the command's own arguments: both must be caught.
      const args = first && command.length >= 2 ? [...command.slice(0, 2), ...carried, ...command.slice(2)] : [...command, ...carried];
      return { args: [...args, ...p()], env: { OVERRIDE_SECRET: "o".repeat(40) }, token };
    });
    const results = await runAll(runs);
    results.forEach((r, i) => {
      const what = runs[i]!.args.join(" ").replaceAll(runs[i]!.token, "<token>");
      expect(r.code, `${what}: ${r.stderr}`).toBe(2);
      expect(r.stdout, what).toBe("");
      expect(r.stderr, what).toMatch(/^edgekv: a token on the command line is kept by ps and shell history.*--stdin/);
      expectNoTrace(everything(r), runs[i]!.token, what);
    });
    // Refused means refused: the live token was not revoked by any of them.
    const list = JSON.parse((await runCli(["token", "list", "--user", "victim", "--json", ...p()])).stdout) as { id: string }[];
    expect(list.map((x) => x.id)).toContain(idOf(live));
    expect(await gateStatus(live)).toBe(200);
  });

  it("token revoke refuses any positional argument (a token with a typo too) without repeating it", async () => {
    const base62 = fc.constantFrom(..."0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".split(""));
    const typo = (t: string, at: number, c: string) => `${t.slice(0, at)}${c === t[at] ? (c === "a" ? "b" : "a") : c}${t.slice(at + 1)}`;
    const args = fc.sample(
      fc.oneof(
        fc.tuple(fc.integer({ min: 4, max: 33 }), base62).map(([at, c]) => typo(live, at, c)), // checksum now wrong
        fc.string({ unit: base62, minLength: 12, maxLength: 64 }),
        fc.string({ unit: base62, minLength: 12, maxLength: 40 }).map((s) => `ekv_${s}`),
      ),
      { numRuns: RUNS / 2, seed: 11 },
    );
    const results = await runAll(args.map((a) => ({ args: ["token", "revoke", a, ...p()] })));
    results.forEach((r, i) => {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain("a token on the command line is kept by ps and shell history");
      expectNoTrace(everything(r), args[i]!, "revoke POSITIONAL");
    });
    expect(await gateStatus(live)).toBe(200);
  });

  it("the safe forms work end to end: stdin (flag or pipe, any trailing whitespace) and --id; the gate then answers 401 and forwards nothing", async () => {
    const forms: { args: string[]; input: (t: string) => string }[] = [
      { args: ["--stdin"], input: (t) => `${t}\n` },
      { args: ["--stdin"], input: (t) => `${t}\r\n\n` },
      { args: [], input: (t) => t }, // a pipe with no flag, as `wrangler secret put` reads it
      { args: ["--id"], input: () => "" }, // --id takes the id, never the token
    ];
    for (const form of forms) {
      const issued = await runCli(["token", "issue", "--user", "rev", ...p()]);
      const token = issued.stdout.trim();
      expect(await gateStatus(token)).toBe(200);
      const args = form.args[0] === "--id" ? ["--id", idOf(token)] : form.args;
      const r = await runCli(["token", "revoke", ...args, ...p()], { input: form.input(token) });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`revoked ${idOf(token)} of rev\n`);
      expectNoTrace(everything(r), token, `revoke ${args.join(" ")}`);
      origin.seen.length = 0;
      expect(await gateStatus(token)).toBe(401);
      expect(origin.seen).toEqual([]);
    }
  });

  it("whatever stdin holds, an error never repeats it", async () => {
    const base62 = fc.constantFrom(..."0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".split(""));
    const inputs = fc.sample(
      fc.oneof(
        fc.string({ unit: base62, minLength: 12, maxLength: 80 }),
        fc.string({ unit: base62, minLength: 30, maxLength: 30 }).map((s) => `ekv_${s}`), // right shape, wrong checksum
        fc.tuple(fc.constant(generateToken()), fc.constant(generateToken())).map(([a, b]) => `${a}\n${b}\n`), // two tokens
      ),
      { numRuns: RUNS / 2, seed: 12 },
    );
    const results = await runAll(inputs.map((input) => ({ args: ["token", "revoke", "--stdin", "--verbose", ...p()], input })));
    results.forEach((r, i) => {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain("stdin does not hold an edgekv token");
      for (const piece of inputs[i]!.split("\n").filter(Boolean)) expectNoTrace(everything(r), piece, "revoke --stdin with bad input");
    });
  });
});

describe("OVERRIDE_SECRET never travels on argv and is never printed", { timeout: TEST_TIMEOUT_MS }, () => {
  const printable = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 32, maxLength: 64 });

  it("--secret (any spelling), or the secret in COLOR's place, is refused with exit 2 and never echoed", async () => {
    const where = fc.constantFrom<(s: string) => string[]>(
      (s) => ["green", "--secret", s],
      (s) => ["green", `--secret=${s}`],
      (s) => ["--secret", s, "blue"],
      (s) => [s],
      (s) => ["--verbose", s],
      (s) => ["green", s],
      (s) => ["green", "--secret-stdin", `--secret=${s}`],
      (s) => ["green", `--${s}`], // pasted where an option goes
      (s) => ["green", `-${s}`],
      (s) => ["green", "--ttl", s],
    );
    const cases = fc.sample(fc.record({ where, secret: printable }), { numRuns: RUNS, seed: 13 });
    const runs = cases.map(({ where, secret }) => ({ args: ["rollout", "override", ...where(secret)], secret, env: { OVERRIDE_SECRET: "e".repeat(40) } }));
    const results = await runAll(runs);
    results.forEach((r, i) => {
      const what = runs[i]!.args.join(" ").replaceAll(runs[i]!.secret, "<secret>");
      expect(r.code, `${what}: ${r.stderr}`).toBe(2);
      expect(r.stdout, what).toBe("");
      expectNoTrace(everything(r), runs[i]!.secret, what);
    });
    // The refusal of --secret says why and what to use instead.
    const refused = results.find((_, i) => runs[i]!.args.some((a) => a.startsWith("--secret") && a !== "--secret-stdin") && !runs[i]!.args[2]?.startsWith("-"));
    expect(refused?.stderr).toContain("--secret is refused: ps and shell history keep the command line");
  });

  it("a secret pasted as a command or an option name is not repeated by the 'unknown' messages", async () => {
    const places = fc.constantFrom<(s: string) => string[]>(
      (s) => [s],
      (s) => ["rollout", s],
      (s) => ["token", s],
      (s) => ["kv", "get", "k", "--env", "auth", `--${s}`],
      (s) => ["site", "versions", `--${s}=x`],
    );
    const cases = fc.sample(fc.record({ place: places, secret: printable }), { numRuns: RUNS / 2, seed: 16 });
    const runs = cases.map(({ place, secret }) => ({ args: [...place(secret), ...p()], secret }));
    const results = await runAll(runs);
    results.forEach((r, i) => {
      const what = runs[i]!.args.join(" ").replaceAll(runs[i]!.secret, "<secret>");
      expect(r.code, `${what}: ${r.stderr}`).toBe(2);
      expectNoTrace(everything(r), runs[i]!.secret, what);
    });
  });

  it("from the environment or stdin it signs a value the splitter accepts; output never holds the secret, in any mode", async () => {
    const secrets = fc.sample(printable, { numRuns: 8, seed: 14 });
    const runs = secrets.flatMap((secret) => [
      { args: ["rollout", "override", "green", "--json"], env: { OVERRIDE_SECRET: secret }, secret },
      { args: ["rollout", "override", "green", "--verbose"], env: { OVERRIDE_SECRET: secret }, secret },
      { args: ["rollout", "override", "green", "--secret-stdin"], input: `${secret}\n`, env: { OVERRIDE_SECRET: "x".repeat(40) }, secret },
      { args: ["rollout", "override", "green"], input: secret, env: { OVERRIDE_SECRET: "" }, secret },
    ]);
    const results = await runAll(runs);
    for (const [i, r] of results.entries()) {
      const { secret, args } = runs[i]!;
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
      expectNoTrace(everything(r), secret, args.join(" "));
      const value = args.includes("--json") ? (JSON.parse(r.stdout) as { value: string }).value : r.stdout.split("\n")[0]!;
      expect(await readOverride(new Headers({ "x-edgekv-override": value }), OVERRIDE_NAMES, secret, Date.now())).toBe("green");
    }
  });

  it("error paths (a weak secret, --verbose) name the problem, never the secret", async () => {
    const weak = fc.sample(fc.string({ unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789".split("")), minLength: 12, maxLength: 31 }), {
      numRuns: 8,
      seed: 15,
    });
    const runs = weak.flatMap((secret): { args: string[]; input?: string; env: Record<string, string>; secret: string }[] => [
      { args: ["rollout", "override", "blue", "--verbose"], env: { OVERRIDE_SECRET: secret }, secret },
      { args: ["rollout", "override", "blue", "--secret-stdin", "--json"], input: secret, env: {}, secret },
    ]);
    const results = await runAll(runs);
    results.forEach((r, i) => {
      expect(r.code).toBe(1);
      // On stderr, or with --json in the error object on stdout (issue 15).
      expect(everything(r)).toContain("OVERRIDE_SECRET is shorter than 32 bytes");
      expectNoTrace(everything(r), runs[i]!.secret, runs[i]!.args.join(" "));
    });
  });
});
