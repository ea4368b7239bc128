// `npm start` itself: it starts, the five ports answer, Ctrl-C stops everything,
// and a port already in use gives a clear message instead of a stack trace.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:net";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { banner, devVarsOf, gateEnvFiles, requestLog } from "../../../scripts/start.ts";
import { generatePrivateJwk } from "../../../workers/auth/assertion.ts";
import { startWranglerDev } from "../helpers/wrangler-dev.ts";
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
    // Every port npm start opens: files run in parallel, and two runs on the default 8792 collide.
    EDGEKV_CONTROL_PORT: String(await freePort()),
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

  it("restarted on other ports with the same state: the demo rollout follows the origins, a revoked demo token is issued again, inspectors can be pinned, a deploy shows on the next request", async () => {
    const first = await portsEnv();
    const state = first.EDGEKV_PERSIST_TO!;
    let run = start(first);
    let token1 = "";
    try {
      await until(() => run.output().includes("Press Ctrl-C") || run.child.exitCode !== null, 150_000);
      token1 = (await readFile(join(state, "edgekv-demo-token"), "utf8")).trim();
      const id = createHash("sha256").update(token1).digest("hex").slice(0, 12);
      // The README's own step: revoke the demo token.
      const revoked = await runCli(["token", "revoke", "--id", id, "--persist-to", state]);
      expect(revoked.code, revoked.stderr).toBe(0);
    } finally {
      run.child.kill("SIGINT");
    }
    expect(await run.exited).toBe(0);

    const second: Record<string, string> = { ...(await portsEnv()), EDGEKV_PERSIST_TO: state, EDGEKV_SITE_INSPECTOR_PORT: String(await freePort()) };
    run = start(second);
    try {
      await until(() => run.output().includes("Press Ctrl-C") || run.child.exitCode !== null, 150_000);
      expect(run.output()).toContain("a new demo token");
      expect(run.output()).toContain(`the demo rollout follows the demo origins to ports ${second.EDGEKV_BLUE_PORT} and ${second.EDGEKV_GREEN_PORT}`);
      const token2 = (await readFile(join(state, "edgekv-demo-token"), "utf8")).trim();
      expect(token2).not.toBe(token1);
      // Through the splitter and the gate: an origin answers (a stale origin port would be a 502).
      expect((await fetch(`http://127.0.0.1:${second.EDGEKV_SPLITTER_PORT}/api/hello`)).status).toBe(200);
      const gate = await fetch(`http://127.0.0.1:${second.EDGEKV_AUTH_PORT}/api/hello`, { headers: { authorization: `Bearer ${token2}` } });
      expect(gate.status).toBe(200);
      expect(await portIsFree(Number(second.EDGEKV_SITE_INSPECTOR_PORT))).toBe(false);

      // A deploy made while it runs shows on the very next request: npm start runs the site with POINTER_TTL_MS=0.
      const site = await mkdtemp(join(tmpdir(), "edgekv-start-site-"));
      dirs.push(site);
      const before = (await fetch(`http://127.0.0.1:${second.EDGEKV_SITE_PORT}/`)).headers.get("x-edgekv-site-version");
      await writeFile(join(site, "index.html"), "<h1>changed while running</h1>");
      const deployed = await runCli(["site", "deploy", site, "--json", "--persist-to", state]);
      expect(deployed.code, deployed.stderr).toBe(0);
      const version = (JSON.parse(deployed.stdout) as { version: string }).version;
      expect(version).not.toBe(before);
      const seen = [(await fetch(`http://127.0.0.1:${second.EDGEKV_SITE_PORT}/`)).headers.get("x-edgekv-site-version")];
      expect(seen.at(-1)).toBe(version);
    } finally {
      run.child.kill("SIGINT");
    }
    expect(await run.exited).toBe(0);
  }, 400_000);
});

describe("npm start's gate reads .dev.vars.auth beside its generated identity key", () => {
  it("wrangler dev gets both files: a setting from the gate's own file takes effect, and so does the generated key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "edgekv-start-devvars-"));
    dirs.push(dir);
    const state = join(dir, "state");
    // As copied from .dev.vars.example: an empty IDENTITY_PRIVATE_JWK must not switch the generated key off.
    // (The admin API lives in the control Worker now; the gate's own file is seen through its REALM.)
    await writeFile(join(dir, ".dev.vars.auth"), "IDENTITY_PRIVATE_JWK=\nIDENTITY_SECRET=\nREALM=from-dev-vars-auth\n");
    const files = await gateEnvFiles(state, () => {}, dir);
    expect(files).toEqual([join(dir, ".dev.vars.auth"), join(state, "edgekv-auth-identity.env")]);
    const gate = await startWranglerDev({ env: "auth", persistTo: state, envFile: files });
    try {
      const res = await fetch(`${gate.url}/private`);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain('realm="from-dev-vars-auth"');
      // And the identity key is in use too: the JWKS is served.
      expect((await fetch(`${gate.url}/.well-known/jwks.json`)).status).toBe(200);
    } finally {
      await gate.stop();
    }
  }, 120_000);

  it("an identity the gate's file sets itself replaces the generated key (never both: IDENTITY_SECRET and a JWK is a misconfiguration)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "edgekv-start-devvars-"));
    dirs.push(dir);
    await writeFile(join(dir, ".dev.vars.auth"), `IDENTITY_SECRET=${"s".repeat(40)}\n`);
    expect(await gateEnvFiles(join(dir, "state"), () => {}, dir)).toEqual([join(dir, ".dev.vars.auth")]);
    await writeFile(join(dir, ".dev.vars.auth"), `IDENTITY_PRIVATE_JWK='${JSON.stringify(await generatePrivateJwk("EdDSA"))}'\n`);
    expect(await gateEnvFiles(join(dir, "state"), () => {}, dir)).toEqual([join(dir, ".dev.vars.auth")]);
  });

  it("takes .dev.vars.<env> before .dev.vars, as wrangler does; none when neither exists", async () => {
    const dir = await mkdtemp(join(tmpdir(), "edgekv-start-devvars-"));
    dirs.push(dir);
    expect(devVarsOf("auth", dir)).toEqual([]);
    await writeFile(join(dir, ".dev.vars"), "X=1\n");
    expect(devVarsOf("auth", dir)).toEqual([join(dir, ".dev.vars")]);
    await writeFile(join(dir, ".dev.vars.auth"), "X=2\n");
    expect(devVarsOf("auth", dir)).toEqual([join(dir, ".dev.vars.auth")]);
  });
});
