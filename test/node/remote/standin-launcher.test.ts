// Issue 22 point 4: the offline remote in one command. `npm run cf-api` runs the stand-in on
// the bundled Node (the system `node` may be 20, which cannot run .ts); `--print-env` starts it
// in the background and prints one `export ...` line for `eval`; `wrangler kv namespace create`
// works against it, and `edgekv --remote` then uses the namespace it made. It stops on SIGINT,
// SIGTERM and SIGHUP.
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli } from "../helpers/cli.ts";

const exec = promisify(execFile);
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const SCRIPT = join(ROOT, "scripts", "cf-api.ts");

let dir: string;
let background: number | undefined;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** Resolves once `pid` is gone (the test's own timeout bounds the wait). */
async function gone(pid: number): Promise<void> {
  while (alive(pid)) await new Promise((r) => setTimeout(r, 100));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-cf-api-"));
});
afterAll(async () => {
  if (background !== undefined && alive(background)) process.kill(background, "SIGTERM");
  await rm(dir, { recursive: true, force: true });
});

/** A shell without the bundled Node first on PATH: what a user's terminal has. */
const userEnv = () => {
  const bin = join(ROOT, "node_modules", ".bin");
  const path = (process.env.PATH ?? "")
    .split(":")
    .filter((p) => p !== bin)
    .join(":");
  return { ...process.env, PATH: path, WRANGLER_SEND_METRICS: "false", HOME: dir, XDG_CONFIG_HOME: join(dir, "xdg"), CLOUDFLARE_API_TOKEN: "" };
};

describe("npm run cf-api -- --print-env", () => {
  it("prints one export line, serves in the background; wrangler creates a namespace; edgekv --remote uses it; kill stops it", async () => {
    const r = await exec("npm", ["run", "-s", "cf-api", "--", "--print-env"], { cwd: ROOT, env: userEnv() });
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const m = /^export CLOUDFLARE_API_BASE_URL=(\S+) CLOUDFLARE_API_TOKEN=(\S+) CLOUDFLARE_ACCOUNT_ID=([0-9a-f]{32}) EDGEKV_CF_API_PID=(\d+)$/.exec(lines[0]!);
    expect(m, r.stdout).not.toBeNull();
    const [, base, token, account, pid] = m!;
    background = Number(pid);
    expect(alive(background)).toBe(true);
    expect(r.stderr).toContain("kill $EDGEKV_CF_API_PID");
    const vars = { CLOUDFLARE_API_BASE_URL: base!, CLOUDFLARE_API_TOKEN: token!, CLOUDFLARE_ACCOUNT_ID: account! };

    // The CLI's hint, as printed, against the stand-in.
    const created = await exec(process.execPath, [WRANGLER, "kv", "namespace", "create", "SITE_KV"], {
      cwd: dir,
      env: { ...userEnv(), ...vars, NO_COLOR: "1" },
    });
    const id = /"?id"?\s*[:=]\s*"([0-9a-f]{32})"/.exec(created.stdout)?.[1];
    expect(id, created.stdout + created.stderr).toBeDefined();
    const listed = await exec(process.execPath, [WRANGLER, "kv", "namespace", "list"], { cwd: dir, env: { ...userEnv(), ...vars, NO_COLOR: "1" } });
    expect(JSON.parse(listed.stdout.slice(listed.stdout.indexOf("[")))).toEqual([expect.objectContaining({ id, title: "SITE_KV" })]);

    const config = join(dir, "wrangler.toml");
    await writeFile(config, `name = "offline"\ncompatibility_date = "2026-11-01"\n[env.site]\n[[env.site.kv_namespaces]]\nbinding = "SITE_KV"\nid = "${id}"\n`);
    const put = await runCli(["kv", "put", "hello", "world", "--env", "site", "--remote", "--config", config], { env: vars });
    expect(put.code, put.stderr).toBe(0);
    const got = await runCli(["kv", "get", "hello", "--env", "site", "--remote", "--config", config], { env: vars });
    expect(got.stdout).toBe("world");

    process.kill(background, "SIGTERM");
    await gone(background);
  }, 180_000);
});

describe("npm run cf-api in the foreground", () => {
  it.each(["SIGINT", "SIGTERM", "SIGHUP"] as const)(
    "prints the export line on stdout, stops on %s (exit 0)",
    async (signal) => {
      const child = spawn(process.execPath, [SCRIPT], { cwd: ROOT, env: userEnv(), stdio: ["ignore", "pipe", "pipe"] });
      const first = await new Promise<string>((resolve) => {
        let out = "";
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("\n")) resolve(out.split("\n")[0]!);
        });
      });
      expect(first).toMatch(/^export CLOUDFLARE_API_BASE_URL=http:\/\/127\.0\.0\.1:\d+\/client\/v4 CLOUDFLARE_API_TOKEN=standin-[0-9a-f]{32} /);
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      child.kill(signal);
      expect(await exited).toBe(0);
    },
    60_000,
  );

  it("refuses a bad --port with exit 2", async () => {
    const r = await exec(process.execPath, [SCRIPT, "--port", "http"], { cwd: ROOT, env: userEnv() }).catch((e: { code: number; stderr: string }) => e);
    expect(r).toMatchObject({ code: 2 });
  });
});
