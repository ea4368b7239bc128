// `npm start` itself: it starts, the five ports answer, Ctrl-C stops everything,
// and a port already in use gives a clear message instead of a stack trace.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:net";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { banner, requestLog } from "../../../scripts/start.ts";
import { generateToken } from "../../../workers/auth/token.ts";
import { ROOT, runCli } from "../helpers/cli.ts";
import { freePort, portIsFree } from "../helpers/ports.ts";

const dirs: string[] = [];
/** ALLOW_CACHE_SECONDS (10 s in wrangler.toml) plus slack for a busy machine. */
const REVOKE_BOUND_MS = 15_000;
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function portsEnv(): Promise<Record<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), "edgekv-start-"));
  dirs.push(dir);
  return {
    EDGEKV_PERSIST_TO: dir,
    EDGEKV_SITE_PORT: String(await freePort()),
    EDGEKV_SPLITTER_PORT: String(await freePort()),
    EDGEKV_AUTH_PORT: String(await freePort()),
    EDGEKV_BLUE_PORT: String(await freePort()),
    EDGEKV_GREEN_PORT: String(await freePort()),
  };
}

function start(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [join(ROOT, "scripts", "start.ts")], {
    cwd: ROOT,
    env: { ...process.env, ...env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, output: () => out, exited };
}

async function until(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("npm start", () => {
  it("starts all five, prints curl commands, and Ctrl-C leaves nothing listening", async () => {
    const env = await portsEnv();
    const ports = [env.EDGEKV_SITE_PORT, env.EDGEKV_SPLITTER_PORT, env.EDGEKV_AUTH_PORT, env.EDGEKV_BLUE_PORT, env.EDGEKV_GREEN_PORT].map(Number);
    const run = start(env);
    try {
      await until(() => run.output().includes("Press Ctrl-C") || run.child.exitCode !== null, 150_000);
      expect(run.output()).toContain("Press Ctrl-C to stop everything.");
      // The demo token is never printed: read from its file into $TOKEN, revoked by its id.
      const state = env.EDGEKV_PERSIST_TO!;
      const token = (await readFile(join(state, "edgekv-demo-token"), "utf8")).trim();
      expect(run.output()).not.toContain(token);
      expect(run.output()).toContain(`TOKEN=$(cat ${join(state, "edgekv-demo-token")})`);
      expect(run.output()).toContain('-H "authorization: Bearer $TOKEN"');
      const revokeLine = /npx edgekv (token revoke --id [0-9a-f]{12})\b/.exec(run.output());
      expect(revokeLine?.[1]).toBe(`token revoke --id ${createHash("sha256").update(token).digest("hex").slice(0, 12)}`);
      for (const port of ports) {
        const res = await fetch(`http://127.0.0.1:${port}/`);
        expect(res.status).toBeLessThan(500);
      }
      // The request log shows up, prefixed with the Worker's name.
      await until(() => /\[site\] GET \/ 200/.test(run.output()), 5_000);
      // The printed revoke command, run as printed (state folder from the environment, as npm start's), works.
      const gate = async () => (await fetch(`http://127.0.0.1:${env.EDGEKV_AUTH_PORT}/api/hello`, { headers: { authorization: `Bearer ${token}` } })).status;
      expect(await gate()).toBe(200);
      const revoked = await runCli(revokeLine![1]!.split(" "), { env: { EDGEKV_PERSIST_TO: state } });
      expect(revoked.code, revoked.stderr).toBe(0);
      let status = 200;
      for (const end = Date.now() + REVOKE_BOUND_MS; status !== 401 && Date.now() < end; await new Promise((r) => setTimeout(r, 250))) status = await gate();
      expect(status).toBe(401);
    } finally {
      run.child.kill("SIGINT");
    }
    expect(await run.exited).toBe(0);
    for (const port of ports) expect(await portIsFree(port)).toBe(true);
    expect(run.output()).not.toContain("stopped unexpectedly");
  }, 200_000);

  it("the printed examples keep the demo token off the command line: $TOKEN from its file, revoke by --id or stdin", async () => {
    const token = generateToken();
    const ports = { site: 1, splitter: 2, auth: 3, blue: 4, green: 5, control: 6 };
    const text = await banner({ ports, token, persistTo: join(process.cwd(), ".wrangler", "state") });
    expect(text).not.toContain(token);
    expect(text).toContain("TOKEN=$(cat .wrangler/state/edgekv-demo-token)");
    expect(text).toContain('curl -s --compressed -H "authorization: Bearer $TOKEN" http://127.0.0.1:3/api/hello');
    // The id as the CLI computes and shows it (workers/auth/token.ts hashToken).
    expect(text).toContain(`npx edgekv token revoke --id ${createHash("sha256").update(token).digest("hex").slice(0, 12)}`);
    expect(text).toContain("--stdin < .wrangler/state/edgekv-demo-token");
    // The default state, the one `npx edgekv` uses: no --persist-to needed.
    expect(text).not.toContain("--persist-to");
    // A state folder outside the working directory is shown absolute, quoted when the shell needs it.
    const odd = await banner({ ports, token, persistTo: "/tmp/it's here" });
    expect(odd).toContain(`TOKEN=$(cat '/tmp/it'\\''s here/edgekv-demo-token')`);
    // Another state folder (EDGEKV_PERSIST_TO): every suggested edgekv command names it, or it would act on another state.
    expect(odd).toContain(`npx edgekv rollout set 50 --persist-to '/tmp/it'\\''s here'`);
    expect(odd).toContain(`npx edgekv site deploy demo/site --persist-to '/tmp/it'\\''s here'`);
    expect(odd).toMatch(/npx edgekv token revoke --id [0-9a-f]{12} --persist-to '\/tmp\/it'\\''s here'/);
    // No seeded token: nothing to read, revoke by user.
    const none = await banner({ ports, token: null, persistTo: "/tmp/x" });
    expect(none).toContain("npx edgekv token revoke --user demo --persist-to /tmp/x");
    expect(none).toContain("TOKEN=$(npx edgekv token issue --user demo --persist-to /tmp/x)");
    expect(none).not.toMatch(/ekv_/);
  });

  it("relays one line per request from wrangler, but not its own readiness polls", () => {
    const lines: string[] = [];
    const relay = requestLog("site", (s) => lines.push(s));
    relay("[wrangler:info] GET /__edgekv/ping 404 Not Found (3ms)\n[wrangler:info] GET / 200 OK (5ms)\n[wrangler:info] GET /ab");
    relay("out 200 OK (2ms)\n");
    expect(lines).toEqual(["[site] GET / 200 OK (5ms)", "[site] GET /about 200 OK (2ms)"]);
  });

  it("a port already in use gives a clear message and exit 1, and starts nothing", async () => {
    const env = await portsEnv();
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(Number(env.EDGEKV_SPLITTER_PORT), "127.0.0.1", () => r()));
    try {
      const run = start(env);
      expect(await run.exited).toBe(1);
      expect(run.output()).toContain(`port ${env.EDGEKV_SPLITTER_PORT} (splitter) is already in use`);
      expect(run.output()).toContain("EDGEKV_SPLITTER_PORT=");
      expect(run.output()).not.toMatch(/\n\s+at /);
      expect(await portIsFree(Number(env.EDGEKV_SITE_PORT))).toBe(true);
    } finally {
      blocker.close();
    }
  }, 60_000);

  it("an invalid port setting is refused before anything starts", async () => {
    const env = { ...(await portsEnv()), EDGEKV_AUTH_PORT: "eighty" };
    const run = start(env);
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain('EDGEKV_AUTH_PORT must be a port number 1..65535, got "eighty"');
  }, 60_000);
});
