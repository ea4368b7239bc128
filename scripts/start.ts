// `npm start`: the whole edgekv suite on one laptop, on loopback, in the real
// runtime. The site Worker, the splitter, the auth gate in front of the
// splitter, and two demo origins (blue, green). Seeds local KV on first start
// and leaves later changes alone. Ctrl-C stops everything it started.
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { isAbsolute, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseEnv } from "node:util";
import { generatePrivateJwk } from "../workers/auth/assertion.ts";
import { hashToken } from "../workers/auth/token.ts";
import { edgekvInProcess } from "./edgekv-in-process.ts";
import { startDemoOrigin, type DemoOrigin } from "./origin.ts";
import { onStopSignals, stopTrackedGroups } from "./supervise.ts";
import { READY_PATH, ROOT, portIsFree, startWranglerDev, type DevServer } from "./wrangler-dev.ts";

/** Default ports; each can be changed with its environment variable. */
export const PORTS = {
  site: { env: "EDGEKV_SITE_PORT", port: 8787 },
  splitter: { env: "EDGEKV_SPLITTER_PORT", port: 8788 },
  auth: { env: "EDGEKV_AUTH_PORT", port: 8789 },
  blue: { env: "EDGEKV_BLUE_PORT", port: 8790 },
  green: { env: "EDGEKV_GREEN_PORT", port: 8791 },
  control: { env: "EDGEKV_CONTROL_PORT", port: 8792 },
} as const;
type Part = keyof typeof PORTS;
type WorkerPart = "site" | "splitter" | "auth" | "control";

/** Inspector ports: free ones unless pinned (a debugger attached to a fixed port). */
export const INSPECTOR_PORTS = {
  site: "EDGEKV_SITE_INSPECTOR_PORT",
  splitter: "EDGEKV_SPLITTER_INSPECTOR_PORT",
  auth: "EDGEKV_AUTH_INSPECTOR_PORT",
  control: "EDGEKV_CONTROL_INSPECTOR_PORT",
} as const;

const DEMO_USER = "demo";
const DEMO_TOKEN_TTL_SECONDS = 7 * 24 * 3600;
/** In the state folder, mode 0600: the banner reads the token from it instead of printing it. */
const DEMO_TOKEN_FILE = "edgekv-demo-token";

class StartError extends Error {}

function portNumber(name: string, raw: string): number {
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(n) || n < 1 || n > 65535) throw new StartError(`${name} must be a port number 1..65535, got "${raw}"`);
  return n;
}

function portsFromEnv(env: NodeJS.ProcessEnv): { ports: Record<Part, number>; inspectors: Partial<Record<WorkerPart, number>> } {
  const out = {} as Record<Part, number>;
  for (const [part, { env: name, port }] of Object.entries(PORTS) as [Part, (typeof PORTS)[Part]][]) {
    const raw = env[name];
    out[part] = raw === undefined ? port : portNumber(name, raw);
  }
  const inspectors: Partial<Record<WorkerPart, number>> = {};
  for (const [part, name] of Object.entries(INSPECTOR_PORTS) as [WorkerPart, string][]) {
    const raw = env[name];
    if (raw !== undefined) inspectors[part] = portNumber(name, raw);
  }
  const seen = new Map<number, string>();
  for (const [part, port] of [...Object.entries(out), ...Object.entries(inspectors).map(([k, v]) => [`${k} inspector`, v] as const)] as [string, number][]) {
    const other = seen.get(port);
    if (other) throw new StartError(`${part} and ${other} are both set to port ${port}`);
    seen.set(port, part);
  }
  return { ports: out, inspectors };
}

/** Runs an edgekv command in-process against the same local state; returns stdout, throws on failure. */
async function run(args: string[], persistTo: string, allowFail = false): Promise<{ code: number; stdout: string; stderr: string }> {
  const result = await edgekvInProcess(args, persistTo);
  if (result.code !== 0 && !allowFail) throw new StartError(`edgekv ${args.join(" ")} failed: ${result.stderr.trim()}`);
  return result;
}

/** The demo origins' URLs for `ports`. */
const demoOrigins = (ports: Record<Part, number>) => ({ blue: `http://127.0.0.1:${ports.blue}`, green: `http://127.0.0.1:${ports.green}` });

/**
 * The stored rollout still names the demo origins of an earlier start on other ports (EDGEKV_BLUE_PORT,
 * EDGEKV_GREEN_PORT): point it at this start's, or every request through the splitter is a 502. Origins a
 * user set (anything but the demo's loopback URLs) are left alone, with a note.
 */
async function followDemoPorts(persistTo: string, ports: Record<Part, number>, log: (s: string) => void): Promise<void> {
  const got = await run(["rollout", "config", "get"], persistTo, true);
  if (got.code !== 0) return;
  const config = JSON.parse(got.stdout) as { origins?: { blue?: string; green?: string } } & Record<string, unknown>;
  const want = demoOrigins(ports);
  const { blue, green } = config.origins ?? {};
  if (blue === want.blue && green === want.green) return;
  const demo = /^http:\/\/127\.0\.0\.1:\d+$/;
  if (!(blue && green && demo.test(blue) && demo.test(green))) {
    log(`note: the rollout sends traffic to ${blue} and ${green}, not to this start's demo origins (${want.blue}, ${want.green})`);
    return;
  }
  log(`seeding: the demo rollout follows the demo origins to ports ${ports.blue} and ${ports.green} (they were ${blue} and ${green})`);
  const file = join(persistTo, "edgekv-demo-rollout.json");
  const { version: _v, updatedAt: _a, updatedBy: _b, ...rest } = config;
  await writeFile(file, JSON.stringify({ ...rest, origins: want }));
  await run(["rollout", "config", "put", file, "--yes"], persistTo);
}

/** The demo token in the token file when it still works (not revoked, not expired), else null. */
async function liveDemoToken(tokenFile: string, persistTo: string): Promise<string | null> {
  if (!existsSync(tokenFile)) return null;
  const token = (await readFile(tokenFile, "utf8")).trim();
  if (!token) return null;
  // `token list` shows live tokens only: a revoked or expired one is not there.
  const listed = await run(["token", "list", "--user", DEMO_USER, "--json"], persistTo, true);
  if (listed.code !== 0) return null;
  const { id } = await hashToken(token);
  return (JSON.parse(listed.stdout) as { id: string }[]).some((t) => t.id === id) ? token : null;
}

/** Seeds what is missing: a site version, a rollout config, a demo token (again, once revoked or expired). Never overwrites a user's change. */
async function seed(persistTo: string, ports: Record<Part, number>, log: (s: string) => void): Promise<string | null> {
  const versions = await run(["site", "versions", "--json"], persistTo, true);
  const hasSite = versions.code === 0 && /"(id|version)"/.test(versions.stdout);
  if (!hasSite) {
    log("seeding: publishing demo/site with `edgekv site deploy`");
    await run(["site", "deploy", join(ROOT, "demo", "site")], persistTo);
  }
  const rollout = await run(["rollout", "status", "--json"], persistTo, true);
  if (rollout.code !== 0) {
    log("seeding: rollout config with blue live at 0%");
    const origins = demoOrigins(ports);
    await run(["rollout", "init", "--blue", origins.blue, "--green", origins.green, "--live", "blue"], persistTo);
  } else await followDemoPorts(persistTo, ports, log);
  const tokenFile = join(persistTo, DEMO_TOKEN_FILE);
  const kept = await liveDemoToken(tokenFile, persistTo);
  if (kept) return kept;
  log(existsSync(tokenFile) ? 'seeding: a new demo token for user "demo" (the last one was revoked or expired)' : 'seeding: a demo token for user "demo"');
  const issued = await run(["token", "issue", "--user", DEMO_USER, "--name", "npm start demo", "--ttl", String(DEMO_TOKEN_TTL_SECONDS), "--json"], persistTo);
  const token = (JSON.parse(issued.stdout) as { token?: string }).token ?? null;
  if (token) {
    await rm(tokenFile, { force: true });
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
  }
  return token;
}

/** What `wrangler dev --env <env>` reads by itself: `.dev.vars.<env>`, else `.dev.vars` (none when neither exists). */
export function devVarsOf(env: WorkerPart, dir = ROOT): string[] {
  const own = join(dir, `.dev.vars.${env}`);
  if (existsSync(own)) return [own];
  const shared = join(dir, ".dev.vars");
  return existsSync(shared) ? [shared] : [];
}

/**
 * The gate's env files: its own `.dev.vars.auth` (or `.dev.vars`), then the generated identity key, which
 * wins over an empty `IDENTITY_PRIVATE_JWK=` copied from .dev.vars.example. An identity the file sets itself
 * (IDENTITY_PRIVATE_JWK or IDENTITY_SECRET, never both) is used instead of the generated one.
 */
export async function gateEnvFiles(persistTo: string, log: (s: string) => void, dir = ROOT): Promise<string[]> {
  const own = devVarsOf("auth", dir);
  const vars = own.length ? parseEnv(await readFile(own[0]!, "utf8")) : {};
  if (vars.IDENTITY_PRIVATE_JWK?.trim() || vars.IDENTITY_SECRET?.trim()) return own;
  return [...own, await identityEnvFile(persistTo, log)];
}

/** In the state folder, mode 0600: the gate's signing key as a wrangler env file (IDENTITY_PRIVATE_JWK). */
const IDENTITY_ENV_FILE = "edgekv-auth-identity.env";

/**
 * The local gate's identity key: generated on first start, kept in the state
 * folder, handed to wrangler as `--env-file` (never on a command line).
 * Origins verify with the JWKS at http://127.0.0.1:<auth port>/.well-known/jwks.json.
 */
async function identityEnvFile(persistTo: string, log: (s: string) => void): Promise<string> {
  const file = join(persistTo, IDENTITY_ENV_FILE);
  if (!existsSync(file)) {
    await mkdir(persistTo, { recursive: true });
    log("seeding: an Ed25519 identity key for the gate's assertions");
    // dotenv syntax: single quotes keep the JSON's double quotes literal.
    await writeFile(file, `IDENTITY_PRIVATE_JWK='${JSON.stringify(await generatePrivateJwk("EdDSA"))}'\n`, { mode: 0o600, flag: "wx" });
  }
  return file;
}

export interface Suite {
  ports: Record<Part, number>;
  token: string | null;
  persistTo: string;
  workers: { site: DevServer; splitter: DevServer; auth: DevServer; control: DevServer };
  origins: { blue: DemoOrigin; green: DemoOrigin };
  stop(): Promise<void>;
}

/**
 * Starts the suite; resolves once all six ports answer.
 * @example const suite = await startSuite({ persistTo: ".wrangler/state" }); ...; await suite.stop();
 */
type Ports = ReturnType<typeof portsFromEnv>;

export async function startSuite(options: { persistTo?: string; env?: NodeJS.ProcessEnv; log?: (s: string) => void } = {}): Promise<Suite> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((s: string) => console.log(s));
  const { ports, inspectors } = portsFromEnv(env);
  const persistTo = resolve(options.persistTo ?? env.EDGEKV_PERSIST_TO ?? join(ROOT, ".wrangler", "state"));
  await mkdir(persistTo, { recursive: true });
  await assertPortsFree(ports);
  const origins: DemoOrigin[] = [];
  const workers: DevServer[] = [];
  let stopping = false;
  const stop = async () => {
    stopping = true;
    await Promise.allSettled(workers.map((w) => w.stop()));
    await Promise.allSettled(origins.map((o) => o.close()));
  };
  try {
    const blue = await startDemoOrigin("blue", ports.blue);
    origins.push(blue);
    const green = await startDemoOrigin("green", ports.green);
    origins.push(green);
    const token = await seed(persistTo, ports, log);
    log("starting the four Workers with wrangler dev (first start takes a few seconds)...");
    const { site, splitter, auth, control } = await startWorkers(persistTo, ports, inspectors, log, workers);
    for (const [name, w] of [
      ["site", site],
      ["splitter", splitter],
      ["auth", auth],
      ["control", control],
    ] as const) {
      void w.exited.then((code) => {
        if (!stopping) log(`the ${name} Worker stopped unexpectedly (exit ${code}):\n${w.output().slice(-2000)}`);
      });
    }
    return { ports, token, persistTo, workers: { site, splitter, auth, control }, origins: { blue, green }, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Refuses to start when a port is taken, naming the variable that moves it. */
async function assertPortsFree(ports: Ports["ports"]): Promise<void> {
  for (const [part, port] of Object.entries(ports) as [Part, number][]) {
    if (!(await portIsFree(port))) {
      throw new StartError(
        `port ${port} (${part}) is already in use. Stop whatever listens there, or pick another port: ${PORTS[part].env}=${port + 1000} npm start`,
      );
    }
  }
}

/** The four Workers, each pushed to `workers` once it runs, so a failure later stops those already started. */
async function startWorkers(
  persistTo: string,
  ports: Ports["ports"],
  inspectors: Ports["inspectors"],
  log: (s: string) => void,
  workers: DevServer[],
): Promise<Suite["workers"]> {
  // One after the other: started together, two workerd processes can collide
  // creating the shared local state (SQLITE_BUSY).
  const inspector = (part: WorkerPart) => (inspectors[part] === undefined ? {} : { inspectorPort: inspectors[part] });
  // POINTER_TTL_MS=0: local KV answers in a millisecond, so a deploy or promote shows on the next reload.
  const site = await startWranglerDev({
    env: "site",
    persistTo,
    port: ports.site,
    ...inspector("site"),
    vars: { POINTER_TTL_MS: "0" },
    onOutput: requestLog("site", log),
  });
  workers.push(site);
  const splitter = await startWranglerDev({
    env: "splitter",
    persistTo,
    port: ports.splitter,
    ...inspector("splitter"),
    onOutput: requestLog("splitter", log),
  });
  workers.push(splitter);
  const auth = await startWranglerDev({
    env: "auth",
    persistTo,
    port: ports.auth,
    ...inspector("auth"),
    vars: { ORIGIN_URL: `http://127.0.0.1:${ports.splitter}` },
    // With --env-file wrangler reads no .dev.vars by itself: pass the gate's own file too.
    envFile: await gateEnvFiles(persistTo, log),
    onOutput: requestLog("auth", log),
  });
  workers.push(auth);
  // The one Worker that acts: its cron runs on demand (--test-scheduled, GET /__scheduled), see the banner.
  const control = await startWranglerDev({
    env: "control",
    persistTo,
    port: ports.control,
    ...inspector("control"),
    testScheduled: true,
    onOutput: requestLog("control", log),
  });
  workers.push(control);
  return { site, splitter, auth, control };
}

/**
 * Passes on what a user wants to see of wrangler's output: one line per
 * request and errors, prefixed with the Worker's name. Drops the harmless
 * offline warning about `Request.cf`, and the readiness polls startWranglerDev sends.
 */
export function requestLog(name: string, log: (s: string) => void): (chunk: string) => void {
  let partial = "";
  let skipStack = false;
  return (chunk) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (line.includes("Unable to fetch the `Request.cf` object")) {
        skipStack = true;
        continue;
      }
      if (skipStack && (/^Error: getaddrinfo/.test(line) || /^\s+at /.test(line))) continue;
      skipStack = false;
      if (line.includes(` ${READY_PATH} `)) continue;
      if (/\[wrangler:(info|error)\] [A-Z]+ \//.test(line) || /\[wrangler:error\]|✘ \[ERROR\]/.test(line)) {
        log(`[${name}] ${line.replace(/^\[wrangler:info\] /, "")}`);
      }
    }
  };
}

/** A path as the user would type it: relative to the working directory when under it, quoted if the shell needs it. */
function shellPath(path: string): string {
  const rel = relative(process.cwd(), path);
  const shown = rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
  return /^[\w./-]+$/.test(shown) ? shown : `'${shown.replaceAll("'", "'\\''")}'`;
}

/**
 * What to try. The demo token is read from its file into a variable and revoked
 * by id, so no command printed here puts it in shell history or on edgekv's argv.
 */
export async function banner(suite: Pick<Suite, "ports" | "token" | "persistTo">): Promise<string> {
  const p = suite.ports;
  const tokenFile = shellPath(join(suite.persistTo, DEMO_TOKEN_FILE));
  // `npx edgekv` acts on .wrangler/state beside wrangler.toml unless told otherwise: name any other state
  // folder (EDGEKV_PERSIST_TO), or the printed commands would change a state nothing here serves.
  const state = resolve(suite.persistTo) === join(ROOT, ".wrangler", "state") ? "" : ` --persist-to ${shellPath(suite.persistTo)}`;
  const tokenLine = suite.token
    ? `TOKEN=$(cat ${tokenFile})                 # the demo token (user "${DEMO_USER}"), kept out of shell history`
    : `TOKEN=$(npx edgekv token issue --user ${DEMO_USER}${state})   # no demo token was seeded: issue one`;
  // The id the CLI shows and takes (workers/auth/token.ts); without a seeded token, the user's tokens.
  const revoke = suite.token
    ? `npx edgekv token revoke --id ${(await hashToken(suite.token)).id}${state}   # the demo token stops working on :${p.auth} (or: --stdin < ${tokenFile})`
    : `npx edgekv token revoke --user ${DEMO_USER}${state}      # the token stops working on :${p.auth}`;
  return `
edgekv is running on loopback:

  site Worker      http://127.0.0.1:${p.site}      (demo/site, served from SITE_KV)
  splitter         http://127.0.0.1:${p.splitter}      (blue ${p.blue} / green ${p.green}, rollout from ROLLOUT_KV)
  auth gate        http://127.0.0.1:${p.auth}      (tokens from TOKENS_KV, in front of the splitter)
  control          http://127.0.0.1:${p.control}      (guard cron, webhooks, status page, token admin API)
  blue origin      http://127.0.0.1:${p.blue}
  green origin     http://127.0.0.1:${p.green}

Try it:
  curl -i --compressed http://127.0.0.1:${p.site}/
  curl -s --compressed http://127.0.0.1:${p.splitter}/api/hello
  ${tokenLine}
  curl -s --compressed -H "authorization: Bearer $TOKEN" http://127.0.0.1:${p.auth}/api/hello
  curl -i http://127.0.0.1:${p.auth}/api/hello                       # 401 without a token
  curl -s "http://127.0.0.1:${p.control}/__scheduled?cron=*+*+*+*+*"   # run one cron tick (guard probes, webhooks) now

Then, in another terminal:
  npx edgekv rollout set 50${state}                 # half of new visitors go green (seen within seconds)
  npx edgekv site deploy demo/site${state}          # publish a change: the next reload shows it
  ${revoke}

Press Ctrl-C to stop everything.`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.env.WRANGLER_SEND_METRICS ??= "false";
  let suite: Suite | undefined;
  // Ctrl-C, SIGTERM, a closed terminal (SIGHUP): stop everything, exit 0; a second signal kills at once.
  // If this process dies without stopping (SIGKILL, a crash), its watchdog (scripts/reaper.ts) does it.
  onStopSignals(
    async () => {
      console.log("\nstopping...");
      // Mid-start there is no suite yet: stop the Workers started so far by their process groups.
      await (suite ? suite.stop() : stopTrackedGroups());
    },
    () => 0,
  );
  try {
    suite = await startSuite();
    console.log(await banner(suite));
  } catch (err) {
    console.error(`edgekv start: ${err instanceof Error ? err.message : String(err)}`);
    await suite?.stop();
    process.exit(1);
  }
}
