// The CLI's outer layer (issue 15): exit codes, invalid input refused before any KV is
// opened, --json errors, confirmations, EPIPE, byte-exact values, config discovery,
// content types, progress and colour. Real binary in a child process, real local KV.
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { confirmAction } from "../../../cli/confirm.ts";
import { ConfirmationError } from "../../../cli/errors.ts";
import { formatBytes, progress, table } from "../../../cli/output.ts";
import { contentTypeOf } from "../../../cli/site/mime.ts";
import { BIN, cli, ROOT, runCli } from "../helpers/cli.ts";

let dir: string;
/** A state folder that must stay absent: proof that no KV was opened. */
let untouched: string;
const state = () => ["--persist-to", join(dir, "state")];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-cli-behaviour-"));
  untouched = join(dir, "never-opened");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `script` runs a command on a pseudo-terminal (util-linux); the PTY tests need it. */
const hasScript = (() => {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** Runs the binary on a pseudo-terminal, typing `answer` after `delayMs`; returns what the terminal showed. */
function onTerminal(args: string[], answer: string, env: Record<string, string> = {}, delayMs = 1_500): Promise<{ code: number; screen: string }> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qec", quoted, "/dev/null"], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let screen = "";
    child.stdout.on("data", (d: Buffer) => (screen += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, screen: screen.replaceAll("\r", "") }));
    setTimeout(() => child.stdin.write(answer), delayMs);
  });
}

describe("invalid input: exit 2, one line in the user's terms, before any KV is opened", () => {
  it.each([
    [["rollout", "set", "150"], "invalid rollout config: PERCENT: must be at most 100"],
    [["rollout", "set", "-5"], "PERCENT: must be at least 0"],
    [["rollout", "set", "abc"], 'PERCENT must be a number, got "abc"'],
    [["rollout", "schedule", "20@+10m", "10@+20m"], "the ramp goes down at step 2 (20% -> 10%), which moves users back; add --allow-decrease"],
    [["rollout", "schedule", "10@+10m", "120@+20m"], "schedule.1.percent: must be at most 100"],
    [["rollout", "init", "--blue", "ftp://b.test", "--green", "https://g.test"], "--blue: must be an absolute http(s) URL"],
    [["kv", "put", "k", "v", "--env", "site", "--ttl", "30"], "KV limit expiration-ttl: expirationTtl 30 is less than 60 seconds"],
    [["kv", "get", "x".repeat(513), "--env", "site"], "KV limit key-bytes"],
    [["token", "issue", "--user", "bad user!"], "--user: user must be 1..128 of"],
    [["token", "issue", "--user", "u", "--scope", "GET /api"], "--scope: a scope is METHOD:/glob"],
    [["token", "list", "--user", "a/b"], "--user: user must be"],
    [["site", "deploy", ".", "--trailing-slash", "sometimes"], "--trailing-slash must be one of"],
  ])("%j", async (args, message) => {
    const started = Date.now();
    const r = await runCli([...args, "--persist-to", untouched]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.split("\n")[0]).toContain(message);
    expect(r.stderr).not.toContain("Unknown option");
    expect(r.stderr).not.toMatch(/key "|invalid value for/); // never an internal key name
    expect(existsSync(untouched), "a KV namespace was opened").toBe(false);
    expect(Date.now() - started).toBeLessThan(10_000); // no KV start-up in it (a busy machine is slow anyway)
  });

  it("a config file that breaks the schema is refused before KV is opened", async () => {
    const file = join(dir, "bad-config.json");
    await writeFile(file, JSON.stringify({ live: "red", percent: 5, origins: { blue: "https://b.test", green: "https://g.test" } }));
    const r = await runCli(["rollout", "config", "put", file, "--yes", "--persist-to", untouched]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid rollout config: live: must be "blue" or "green"');
    expect(existsSync(untouched)).toBe(false);
  });

  it("with --json the error is one JSON object on stdout, and stderr stays empty", async () => {
    const r = await runCli(["rollout", "set", "150", "--json", "--persist-to", untouched]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({
      ok: false,
      error: { code: "invalid_input", message: "invalid rollout config: PERCENT: must be at most 100", exit: 2 },
    });
    const usage = JSON.parse((await runCli(["kv", "get", "k", "--env", "site", "--bogus", "--json"])).stdout) as { error: { code: string } };
    expect(usage.error.code).toBe("usage");
    const failure = await runCli(["kv", "get", "missing", "--env", "site", "--json", ...state()]);
    expect(failure.code).toBe(1);
    expect(JSON.parse(failure.stdout)).toMatchObject({ ok: false, error: { code: "failed", exit: 1 } });
  });

  it("a decreasing ramp is accepted with --allow-decrease", async () => {
    const init = await cli(["rollout", "init", "--blue", "https://b.test", "--green", "https://g.test", ...state()]);
    expect(init.code, init.stderr).toBe(0);
    const r = await cli(["rollout", "schedule", "20@+10m", "10@+20m", "--allow-decrease", ...state()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("+ schedule.1.percent: 10");
  });

  it("usage errors: an unknown command gets yargs' suggestion; `edgekv completion` prints a script that completes commands", async () => {
    const typo = await runCli(["rolout", "status"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('unknown command "rolout" (did you mean "rollout"?)');
    const script = await runCli(["completion"]);
    expect(script.code).toBe(0);
    expect(script.stdout).toContain("--get-yargs-completions");
    const words = await runCli(["--get-yargs-completions", "edgekv", "kv", ""]);
    expect(words.stdout.split("\n")).toEqual(expect.arrayContaining(["get", "put", "list", "delete"]));
  });
});

describe("destructive commands ask first; without a terminal they need --yes", () => {
  it.each([
    [["rollout", "promote"], "promote"],
    [["rollout", "rollback", "--to", "1"], "replace the rollout config with version 1's"],
    [["site", "gc"], "delete site versions beyond the newest 5"],
    [["token", "revoke", "--user", "alice"], 'revoke every token of user "alice"'],
    [["kv", "delete", "k", "--env", "site"], 'delete key "k" from SITE_KV'],
  ])("%j refuses (exit 2, saying so) before opening KV", async (args, action) => {
    const r = await runCli([...args, "--persist-to", untouched]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`not confirmed: ${action}`);
    expect(r.stderr).toContain("no terminal to ask on, so add --yes");
    expect(existsSync(untouched)).toBe(false);
    const json = await runCli([...args, "--json", "--persist-to", untouched]);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: "confirmation_required", exit: 2 } });
  });

  it("--yes goes ahead; the key is gone", async () => {
    await cli(["kv", "put", "doomed", "x", "--env", "site", ...state()]);
    expect((await runCli(["kv", "delete", "doomed", "--env", "site", ...state()])).code).toBe(2);
    expect((await cli(["kv", "get", "doomed", "--env", "site", ...state()])).code).toBe(0);
    expect((await runCli(["kv", "delete", "doomed", "--env", "site", "-y", ...state()])).code).toBe(0);
    expect((await cli(["kv", "get", "doomed", "--env", "site", ...state()])).code).toBe(1);
  });

  it("confirmAction: --yes skips the question, no terminal refuses, only y/yes goes ahead", async () => {
    const asked: string[] = [];
    const ask = (answer: string) => async (q: string) => {
      asked.push(q);
      return answer;
    };
    await confirmAction("drop it", { yes: true, interactive: false, ask: ask("n") });
    await expect(confirmAction("drop it", { yes: false, interactive: false, ask: ask("y") })).rejects.toBeInstanceOf(ConfirmationError);
    expect(asked).toEqual([]);
    await confirmAction("drop it", { yes: false, interactive: true, ask: ask(" Yes\n") });
    expect(asked).toEqual(["drop it? [y/N] "]);
    for (const answer of ["", "n", "no", "yy"]) {
      await expect(confirmAction("drop it", { yes: false, interactive: true, ask: ask(answer) })).rejects.toThrow("aborted; nothing changed");
    }
  });

  it.skipIf(!hasScript)("on a terminal it asks (y/N): n aborts with exit 1, y deletes", async () => {
    await cli(["kv", "put", "asked", "x", "--env", "site", ...state()]);
    const no = await onTerminal(["kv", "delete", "asked", "--env", "site", ...state()], "n\n");
    expect(no.screen).toContain('delete key "asked" from SITE_KV');
    expect(no.screen).toContain("[y/N]");
    expect(no.screen).toContain("aborted; nothing changed");
    expect(no.code).toBe(1);
    const yes = await onTerminal(["kv", "delete", "asked", "--env", "site", ...state()], "y\n");
    expect(yes.screen).toContain("deleted asked");
    expect(yes.code).toBe(0);
  });
});

describe("output", () => {
  it("kv get/put are byte-exact: --file both ways, raw bytes on stdout, base64 under --json", async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const input = join(dir, "all-bytes.bin");
    await writeFile(input, bytes);
    expect((await runCli(["kv", "put", "bin", "--file", input, "--env", "site", ...state()])).code).toBe(0);
    const piped = await runCli(["kv", "get", "bin", "--env", "site", ...state()]);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdoutBytes).toEqual(bytes);
    const output = join(dir, "out.bin");
    expect((await runCli(["kv", "get", "bin", "--env", "site", "--file", output, ...state()])).code).toBe(0);
    expect(await readFile(output)).toEqual(bytes);
    const json = JSON.parse((await runCli(["kv", "get", "bin", "--env", "site", "--json", ...state()])).stdout) as { value: string; encoding: string };
    expect(json.encoding).toBe("base64");
    expect(Buffer.from(json.value, "base64")).toEqual(bytes);
    // Text comes back without an added newline.
    await runCli(["kv", "put", "txt", "no newline", "--env", "site", ...state()]);
    expect((await runCli(["kv", "get", "txt", "--env", "site", ...state()])).stdout).toBe("no newline");
  });

  it("a reader that leaves early (| head) ends the command quietly: no EPIPE trace, exit 0", async () => {
    const big = join(dir, "big.txt");
    await writeFile(big, "line\n".repeat(400_000));
    expect((await runCli(["kv", "put", "big", "--file", big, "--env", "site", ...state()])).code).toBe(0);
    const node = (args: string) => `'${process.execPath}' '${BIN}' ${args} --persist-to '${join(dir, "state")}'`;
    const err = join(dir, "err.txt");
    const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };
    const out = execFileSync("bash", ["-c", `${node("kv get big --env site")} 2>'${err}' | head -c 5; echo " rc=\${PIPESTATUS[0]}"; cat '${err}'`], {
      cwd: ROOT,
      env,
    }).toString();
    expect(out).toBe("line\n rc=0\n");
    const list = execFileSync("bash", ["-c", `${node("kv list --env site")} 2>&1 | head -1`], { cwd: ROOT, env }).toString();
    expect(list).toMatch(/^\w+\n$/);
  });

  it("content types come from the mime database; compressibility from the type", () => {
    expect(contentTypeOf("/a/config.yaml")).toEqual({ type: "text/yaml; charset=utf-8", compressible: true });
    expect(contentTypeOf("/data.jsonld")).toEqual({ type: "application/ld+json; charset=utf-8", compressible: true });
    expect(contentTypeOf("/m/scene.gltf")).toEqual({ type: "model/gltf+json; charset=utf-8", compressible: true });
    expect(contentTypeOf("/voice.opus")).toEqual({ type: "audio/ogg", compressible: false });
    expect(contentTypeOf("/IMG_1.HEIC")).toEqual({ type: "image/heic", compressible: false });
    expect(contentTypeOf("/app.wasm")).toEqual({ type: "application/wasm", compressible: true });
    expect(contentTypeOf("/legacy.cjs").type).toBe("text/javascript; charset=utf-8");
    expect(contentTypeOf("/font.woff2").compressible).toBe(false);
    expect(contentTypeOf("/logo.png").compressible).toBe(false);
    expect(contentTypeOf("/.env").type).toBe("application/octet-stream");
  });

  it("sizes read as people write them; tables align under their headers", () => {
    expect([0, 1023, 1536, 5 * 1024 * 1024, 123.4 * 1024 ** 3].map(formatBytes)).toEqual(["0 B", "1023 B", "1.50 KiB", "5.00 MiB", "123 GiB"]);
    expect(
      table(
        ["ID", "USER"],
        [
          ["3f9a0c1b2d4e", "alice"],
          ["1", "bob"],
        ],
      ),
    ).toBe("ID            USER\n3f9a0c1b2d4e  alice\n1             bob");
  });

  it("progress without a terminal: a line at once, then at most one per interval, and the last one", () => {
    let t = 0;
    const lines: string[] = [];
    const p = progress("uploading", { tty: false, write: (s) => lines.push(s), intervalMs: 5_000, now: () => t });
    for (let i = 1; i <= 10; i++) {
      t = i * 1_000;
      p.update(i, 10);
    }
    p.done();
    expect(lines).toEqual(["uploading: 1/10\n", "uploading: 6/10\n", "uploading: 10/10\n"]);
  });

  it("site deploy without a terminal says what it does; sizes are human; colour only when forced or on a terminal", async () => {
    const site = join(dir, "site");
    await mkdir(site, { recursive: true });
    await writeFile(join(site, "index.html"), "<h1>hi</h1>");
    const r = await runCli(["site", "deploy", site, ...state()]);
    expect(r.code, r.stderr).toBe(0);
    // Issue 12: files are hashed first, then the KV writes are announced before the upload.
    expect(r.stderr).toMatch(
      /^site deploy: 1 file from .*\nhashing: 1\/1\nsite deploy: 1 new blob; will make 4 KV writes \(1 blob \+ 1 shard \+ 1 index \+ 1 pointer\)\nuploading: 1\/1\n$/,
    );
    expect(r.stdout).toMatch(/1 file, 11 B; 1 new blob, \d+ B uploaded/);
    expect(r.stdout).not.toContain("0.00 MiB");
    expect((await runCli(["nope"])).stderr).not.toContain("\u001b[");
    expect((await runCli(["nope"], { env: { FORCE_COLOR: "1" } })).stderr).toContain("\u001b[31medgekv:");
  });
});

describe("config discovery, as wrangler does it", () => {
  it("finds wrangler.jsonc from a subfolder (state beside it), and says what is missing when there is none", async () => {
    const project = join(dir, "project");
    const deep = join(project, "src", "deep");
    await mkdir(deep, { recursive: true });
    await writeFile(
      join(project, "wrangler.jsonc"),
      `// a JSONC config, comments and trailing commas allowed
      { "name": "p", "compatibility_date": "2026-11-01",
        "env": { "site": { "kv_namespaces": [{ "binding": "SITE_KV", "id": "p-local" },] } } }`,
    );
    const env = { EDGEKV_PERSIST_TO: "" };
    const put = await runCli(["kv", "put", "hello", "world", "--env", "site"], { cwd: deep, env });
    expect(put.code, put.stderr).toBe(0);
    expect(put.stdout).toContain(join(project, ".wrangler", "state"));
    expect((await runCli(["kv", "get", "hello", "--env", "site"], { cwd: deep, env })).stdout).toBe("world");
    const nowhere = await mkdtemp(join(tmpdir(), "edgekv-no-config-"));
    try {
      const r = await runCli(["kv", "get", "hello", "--env", "site"], { cwd: nowhere, env });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("no wrangler.json, wrangler.jsonc, wrangler.toml in");
      const explicit = await runCli(["kv", "get", "hello", "--env", "site", "--config", "missing.toml"], { cwd: nowhere, env });
      expect(explicit.stderr).toContain("no wrangler config at");
    } finally {
      await rm(nowhere, { recursive: true, force: true });
    }
  });
});
