// `npm run soak [-- --quick] [--seconds 60] [--connections 64]`: the `npm start`
// topology (site Worker; auth gate -> splitter -> blue/green origins), seeded
// with the edgekv CLI, under bounded load with a realistic mix, while faults are
// injected: KV failing for a window, an origin down, an origin slow past the
// timeout, an invalid rollout config written to KV, a site deploy and rollout
// changes under load, a token revoked mid-run. Exits non-zero on any
// unexplained error or wrong decision. See docs/benchmarks.md.
import { FINGERPRINT_RE } from "../workers/site/model.ts";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { pathToFileURL } from "node:url";
import { rssBytes } from "./runtime.ts";
import { table } from "./table.ts";
import { classify, colourFlips, originViolations, siteViolations, type FaultName, type FaultWindow, type Kind, type Observation } from "./soak/classify.ts";
import { startOrigin, type Origin } from "./origin.ts";
import { CHAOS_PLAN, SEED_PERCENT, rolloutSetArgs, runPlan, type Clock, type Step, type StepActions } from "./soak/schedule.ts";
import { startSoakWorkers, type SoakWorkers } from "./soak/topology.ts";
import { edgekvOk } from "./edgekv-in-process.ts";
import { onStopSignals } from "./supervise.ts";
import { ROOT } from "./wrangler-dev.ts";

const run = promisify(execFile);
const VALID_USER = "soak";
const REVOKED_USER = "soak-revoked";
/** The gate's ALLOW_CACHE_SECONDS (wrangler.toml) plus slack: the local revocation bound. */
const REVOCATION_BOUND_MS = 10_000 + 2_000;
const ORIGIN_TIMEOUT_MS = 2_000;
const SLOW_ORIGIN_MS = 3_000;
const REQUEST_TIMEOUT_MS = 15_000;
const MAX_REQUESTS = 2_000_000;

interface Options {
  seconds: number;
  connections: number;
  quick: boolean;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: { quick: { type: "boolean" }, seconds: { type: "string" }, connections: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    console.log("Usage: npm run soak -- [--quick] [--seconds 60] [--connections 64]\n  --quick  20 s (faults compressed into it)");
    process.exit(0);
  }
  const n = (raw: string | undefined, d: number, name: string, max: number) => {
    if (raw === undefined) return d;
    const v = Number(raw);
    if (!Number.isFinite(v) || v <= 0 || v > max) throw new Error(`--${name} must be a number in (0, ${max}], got "${raw}"`);
    return v;
  };
  const quick = values.quick === true;
  return { quick, seconds: n(values.seconds, quick ? 20 : 60, "seconds", 3600), connections: Math.round(n(values.connections, 64, "connections", 1024)) };
}

/** edgekv in-process (setup only: it would share the event loop with the load). */
const cliInProcess = (args: string[], persist: string, now?: () => number): Promise<string> => edgekvOk(args, persist, now ? { now } : {});

/** The real `edgekv` binary in a child process (during the run). */
async function cliProcess(args: string[], persist: string): Promise<string> {
  const { stdout } = await run(process.execPath, [join(ROOT, "cli", "bin.mjs"), ...args, "--persist-to", persist], {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
    maxBuffer: 8 * 1024 * 1024,
  });
  return stdout;
}

const sha256 = (b: ArrayBuffer) => createHash("sha256").update(new Uint8Array(b)).digest("hex");
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// The site Worker's own rule for which names get `immutable`.
const isFingerprinted = (path: string) => FINGERPRINT_RE.test(path);

interface Tokens {
  valid: string;
  revokedLater: string;
  unknown: string;
  expired: string;
}

/** The running topology: origins, Workers, and what setup wrote. */
interface Topology {
  persist: string;
  siteDir: string;
  blue: Origin;
  green: Origin;
  workers: SoakWorkers;
  tokens: Tokens;
  workerLogs: string[];
  pids: Record<string, number | null>;
}

/** Seeds as `npm start` does, with the CLI in-process: demo/site, rollout blue/green, tokens (one revoked, one expired). */
async function seed(persist: string, siteDir: string, blue: Origin, green: Origin): Promise<Tokens> {
  await cp(join(ROOT, "demo", "site"), siteDir, { recursive: true });
  await cliInProcess(["site", "deploy", siteDir, "--json"], persist);
  await cliInProcess(
    ["rollout", "init", "--blue", blue.url, "--green", green.url, "--live", "blue", "--percent", String(SEED_PERCENT), "--timeout", String(ORIGIN_TIMEOUT_MS)],
    persist,
  );
  const issue = async (user: string, ttl: number, now?: () => number) =>
    (JSON.parse(await cliInProcess(["token", "issue", "--user", user, "--ttl", String(ttl), "--json"], persist, now)) as { token: string }).token;
  const valid = await issue(VALID_USER, 86_400);
  const revokedLater = await issue(REVOKED_USER, 86_400);
  const unknown = await issue("soak-gone", 86_400);
  await cliInProcess(["token", "revoke", "--user", "soak-gone", "--yes"], persist); // its only token (never a token on argv)
  // Issued "two hours ago" for one hour (the CLI's injectable clock): KV still holds it, the gate's clock refuses it.
  const expired = await issue("soak-expired", 3600, () => Date.now() - 2 * 3600_000);
  return { valid, revokedLater, unknown, expired };
}

/** Origins, seed and Workers; each started part registers its cleanup first. */
async function setup(work: string, log: (s: string) => void, cleanups: (() => Promise<void>)[]): Promise<Topology> {
  const persist = join(work, "state");
  const siteDir = join(work, "site");
  // The demo origins' answers (their colour), recording what reaches them; switched down and slowed by the faults.
  const blue = await startOrigin("blue", { reply: "demo", keepAliveTimeoutMs: 30_000 });
  const green = await startOrigin("green", { reply: "demo", keepAliveTimeoutMs: 30_000 });
  cleanups.push(
    () => blue.close(),
    () => green.close(),
  );
  log("seeding with the edgekv CLI: demo/site, rollout blue/green, tokens...");
  const tokens = await seed(persist, siteDir, blue, green);

  const workerLogs: string[] = [];
  log("starting the Workers in workerd (Miniflare), KV bindings behind a fault switch...");
  const workers = await startSoakWorkers(persist, (w, line) => {
    if (workerLogs.length < 5000) workerLogs.push(`${w}: ${line}`);
  });
  cleanups.unshift(() => workers.stop());
  const pids = { site: workers.site.pid, splitter: workers.splitter.pid, auth: workers.auth.pid };
  for (const w of [workers.site, workers.splitter, workers.auth]) await (await fetch(`${w.url}/`)).arrayBuffer();
  return { persist, siteDir, blue, green, workers, tokens, workerLogs, pids };
}

async function memory(pids: Topology["pids"]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) out[name] = pid ? await rssBytes(pid) : Number.NaN;
  return out;
}

/** What the run saw, shared by the traffic, the fault schedule and the verdicts. */
interface RunState {
  runStart: number;
  deadline: number;
  /** Never later than this. */
  hardCap: number;
  /** Not before this (the faults push it out: the revocation bound, the recovery tail). */
  minEnd: number;
  chaosDone: boolean;
  requests: number;
  id: number;
  observations: Observation[];
  flips: { user: string; version: string; color: string; reason: string }[];
  siteSeen: { version: string; path: string; etag: string; bodySha?: string }[];
  mixedPages: string[];
  versionsBefore: Set<string>;
  etagByPath: Map<string, string>;
  faults: FaultWindow[];
  revokedAt?: number;
}

function newRunState(seconds: number): RunState {
  const runStart = Date.now();
  const deadline = runStart + seconds * 1000;
  return {
    runStart,
    deadline,
    // The load stops at the deadline, or later once every fault has run (and the
    // revocation bound has passed), never later than the hard cap.
    hardCap: deadline + seconds * 1000 + 60_000,
    minEnd: deadline,
    chaosDone: false,
    requests: 0,
    id: 0,
    observations: [],
    flips: [],
    siteSeen: [],
    mixedPages: [],
    versionsBefore: new Set(),
    etagByPath: new Map(),
    faults: [],
  };
}

function keepGoing(st: RunState): boolean {
  const now = Date.now();
  return now < st.hardCap && st.requests < MAX_REQUESTS && (now < st.deadline || !st.chaosDone || now < st.minEnd);
}

/** One tagged request, observed (status, error code from a JSON error body, or no response). */
async function send(st: RunState, kind: Kind, url: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
  const start = Date.now();
  st.requests += 1;
  const headers = { ...(init.headers ?? {}), "x-soak-kind": kind, "x-soak-id": String(++st.id) };
  try {
    const res = await fetch(url, { ...init, headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const body = await res.arrayBuffer();
    const obs: Observation = { kind, start, end: Date.now(), status: res.status };
    if (res.status >= 400 && (res.headers.get("content-type") ?? "").includes("json")) {
      try {
        const code = (JSON.parse(new TextDecoder().decode(body)) as { error?: unknown }).error;
        if (typeof code === "string") obs.errorCode = code;
      } catch {
        /* not JSON after all */
      }
    }
    st.observations.push(obs);
    return { res, body };
  } catch (err) {
    st.observations.push({ kind, start, end: Date.now(), status: 0, errorCode: err instanceof Error ? err.name : "error" });
    return null;
  }
}

/** A page (sometimes conditional or ranged), then its assets as a browser would fetch them right after. */
async function sitePage(st: RunState, siteUrl: string): Promise<void> {
  const path = pick(["/", "/about/"]);
  const r = Math.random();
  const headers: Record<string, string> = {};
  const etag = st.etagByPath.get(path);
  if (r < 0.25 && etag) headers["if-none-match"] = etag;
  else if (r < 0.4) headers.range = "bytes=0-99";
  const got = await send(st, "site", `${siteUrl}${path}`, { headers });
  if (got?.res.status !== 200) return;
  const version = got.res.headers.get("x-edgekv-site-version") ?? "?";
  const tag = got.res.headers.get("etag") ?? "";
  st.etagByPath.set(path, tag);
  st.siteSeen.push({ version, path, etag: tag, bodySha: sha256(got.body) });
  const html = new TextDecoder().decode(got.body);
  const assets = [...new Set([...html.matchAll(/(?:href|src)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!))];
  for (const asset of assets) {
    const a = await send(st, "site-asset", `${siteUrl}${asset}`);
    if (a?.res.status !== 200) continue;
    const aVersion = a.res.headers.get("x-edgekv-site-version") ?? "?";
    const aTag = a.res.headers.get("etag") ?? "";
    st.siteSeen.push({ version: aVersion, path: asset, etag: aTag, bodySha: sha256(a.body) });
    if (aVersion !== version && !isFingerprinted(asset)) {
      const pageVersionTag = st.siteSeen.find((s) => s.version === version && s.path === asset)?.etag;
      if (pageVersionTag !== undefined && pageVersionTag !== aTag) st.mixedPages.push(`${path} (version ${version}) got ${asset} from version ${aVersion}`);
    }
  }
}

async function splitterHit(st: RunState, splitterUrl: string, users: readonly string[]): Promise<void> {
  const user = pick(users);
  const got = await send(st, "splitter", `${splitterUrl}/api/hello`, { headers: { cookie: `edgekv_id=${user}`, accept: "application/json" } });
  if (got?.res.status !== 200) return;
  const h = got.res.headers;
  st.flips.push({ user, version: h.get("x-edgekv-config-version") ?? "none", color: h.get("x-edgekv-color") ?? "?", reason: h.get("x-edgekv-reason") ?? "?" });
}

async function gateHit(st: RunState, authUrl: string, t: Tokens): Promise<void> {
  const r = Math.random();
  const badIp = `203.0.113.${1 + Math.floor(Math.random() * 200)}`;
  const [kind, token, ip]: [Kind, string | null, string] =
    r < 0.55
      ? ["gate-valid", t.valid, "198.51.100.10"]
      : r < 0.65
        ? ["gate-malformed", `ekv_${"z".repeat(30)}`, badIp]
        : r < 0.75
          ? ["gate-unknown", t.unknown, badIp]
          : r < 0.85
            ? ["gate-expired", t.expired, badIp]
            : r < 0.95
              ? ["gate-revoked", t.revokedLater, "198.51.100.20"]
              : ["gate-none", null, badIp];
  const headers: Record<string, string> = { "cf-connecting-ip": ip, accept: "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  await send(st, kind, `${authUrl}/api/hello`, { headers });
}

/** One connection's worth of the realistic mix: 40% site pages, 30% splitter users, 30% gate tokens. */
async function trafficLoop(st: RunState, topo: Topology, users: readonly string[]): Promise<void> {
  while (keepGoing(st)) {
    const r = Math.random();
    if (r < 0.4) await sitePage(st, topo.workers.site.url);
    else if (r < 0.7) await splitterHit(st, topo.workers.splitter.url, users);
    else await gateHit(st, topo.workers.auth.url, topo.tokens);
  }
}

/** A new site version: changed page text and a re-fingerprinted stylesheet, deployed with the real binary. */
async function deployNewSiteVersion(siteDir: string, persist: string): Promise<void> {
  const css = await readFile(join(siteDir, "assets", "site.ffb8591d.css"), "utf8");
  await rm(join(siteDir, "assets", "site.ffb8591d.css"));
  await writeFile(join(siteDir, "assets", "site.50ak0002.css"), `${css}\n/* soak */\n`);
  for (const page of ["index.html", join("about", "index.html")]) {
    const p = join(siteDir, page);
    await writeFile(p, (await readFile(p, "utf8")).replaceAll("site.ffb8591d.css", "site.50ak0002.css").replace("</body>", "<!-- soak deploy --></body>"));
  }
  await cliProcess(["site", "deploy", siteDir, "--json"], persist);
}

const realClock: Clock = { now: () => Date.now(), sleep: async (ms) => void (await sleep(ms)) };

/**
 * Every fault and operator event of CHAOS_PLAN (scripts/soak/schedule.ts), each on its own timer; a
 * rollout change never meets the bad config (it waits for the restore). Each is recorded in `st.faults`.
 */
async function chaos(st: RunState, topo: Topology, seconds: number, log: (s: string) => void): Promise<void> {
  const { persist, blue, green, workers } = topo;
  const rolloutArgs = rolloutSetArgs(CHAOS_PLAN);
  let inForce = ""; // the rollout config the bad-config fault replaced, put back when it ends
  const actions = (step: Step): StepActions => {
    switch (step.name) {
      case "token-revoke":
        return {
          act: async () => {
            await cliProcess(["token", "revoke", "--user", REVOKED_USER, "--yes"], persist); // its only token, revokedLater
            st.revokedAt = Date.now();
            // Keep loading until the revocation bound has passed, so it is checked.
            st.minEnd = Math.max(st.minEnd, st.revokedAt + REVOCATION_BOUND_MS + 3_000);
          },
        };
      case "kv-down":
        return { on: () => workers.setKvFailing(true), off: () => workers.setKvFailing(false) };
      case "origin-down":
        return { on: async () => blue.down(), off: async () => blue.up() };
      case "origin-slow":
        return { on: async () => void (green.delayMs = SLOW_ORIGIN_MS), off: async () => void (green.delayMs = 0) };
      case "bad-config":
        return {
          on: async () => {
            inForce = (await cliProcess(["kv", "get", "rollout/config", "--env", "splitter"], persist)).trim();
            await cliProcess(["kv", "put", "rollout/config", '{"version":999,"live":"purple","percent":150}', "--env", "splitter"], persist);
          },
          off: async () => void (await cliProcess(["kv", "put", "rollout/config", inForce, "--env", "splitter"], persist)),
        };
      case "rollout-change":
        return { act: async () => void (await cliProcess(rolloutArgs.get(step) ?? [], persist)) };
      case "site-deploy":
        return {
          act: async () => {
            for (const s of st.siteSeen) st.versionsBefore.add(s.version);
            await deployNewSiteVersion(topo.siteDir, persist);
          },
        };
    }
  };
  await runPlan(CHAOS_PLAN, {
    runStart: st.runStart,
    seconds,
    clock: realClock,
    actions: (step) => {
      const a = actions(step);
      const say = (what: string, f?: () => Promise<void>) =>
        f &&
        (async () => {
          log(`${what}: ${step.name}`);
          await f();
        });
      return { on: say("fault on", a.on), off: a.off, act: say("event", a.act) };
    },
    onDone: (ran) => {
      st.faults.push({ name: ran.step.name, start: ran.start, end: ran.end });
      log(`${ran.step.to === undefined ? "event done" : "fault off"}: ${ran.step.name} (${ran.end - ran.start} ms)`);
    },
  });
  // A tail after the last fault, so recovery is observed too (and the new site
  // version: the site's isolate holds the pointer up to 5 s under traffic).
  st.minEnd = Math.max(st.minEnd, Date.now() + 7_000);
  st.chaosDone = true;
}

interface Verdicts {
  unexplained: Map<string, number>;
  wrong: Map<string, number>;
  explained: Map<string, number>;
  originHits: number;
}

/** Every response classified against the faults, plus the wrong decisions seen at the origins and across responses. */
function judge(st: RunState, topo: Topology): Verdicts {
  const options = {
    graceMs: 2_000 + ORIGIN_TIMEOUT_MS,
    revocationBoundMs: REVOCATION_BOUND_MS,
    ...(st.revokedAt !== undefined ? { revokedAt: st.revokedAt } : {}),
  };
  const unexplained = new Map<string, number>();
  const wrong = new Map<string, number>();
  const explained = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  for (const o of st.observations) {
    const v = classify(o, st.faults, options);
    if (v.class === "unexplained") bump(unexplained, v.why);
    else if (v.class === "wrong") bump(wrong, v.why);
    else if (v.class === "explained") bump(explained, v.by);
  }
  // What reached an origin: the soak kind it was sent as, and the identity the gate added.
  const hits = [...topo.blue.seen, ...topo.green.seen].map((r) => ({
    kind: headerValue(r.headers["x-soak-kind"]),
    user: headerValue(r.headers["x-edgekv-user"]),
  }));
  for (const w of originViolations(hits, VALID_USER)) bump(wrong, w);
  for (const w of colourFlips(st.flips)) bump(wrong, `colour flip without a config change: ${w}`);
  for (const w of siteViolations(st.siteSeen)) bump(wrong, `site: ${w}`);
  for (const w of st.mixedPages) bump(wrong, `page mixing two site versions: ${w}`);
  return { unexplained, wrong, explained, originHits: hits.length };
}

const headerValue = (v: string | string[] | undefined) => (typeof v === "string" ? v : undefined);

function statusTable(observations: readonly Observation[]): string {
  const kinds = [...new Set(observations.map((o) => o.kind))].sort();
  const statuses = [...new Set(observations.map((o) => o.status))].sort((a, b) => a - b);
  return table(
    ["kind", ...statuses.map((s) => (s === 0 ? "no response" : String(s))), "total"],
    kinds.map((k) => {
      const mine = observations.filter((o) => o.kind === k);
      return [k, ...statuses.map((s) => mine.filter((o) => o.status === s).length || ""), mine.length];
    }),
  );
}

/** The Markdown report: responses by kind and status, faults, unexplained errors, wrong decisions, memory. */
function renderReport(
  st: RunState,
  v: Verdicts,
  opt: Options,
  elapsed: number,
  mem: { before: Record<string, number>; after: Record<string, number> },
): string {
  const { observations, siteSeen, faults, runStart } = st;
  const mib = (n: number) => (Number.isFinite(n) ? `${(n / 2 ** 20).toFixed(1)} MiB` : "n/a");
  const versions = new Set(siteSeen.map((s) => s.version));
  const deployed = faults.find((f) => f.name === "site-deploy");
  const newVersionSeen = deployed ? siteSeen.some((s) => !st.versionsBefore.has(s.version)) : false;
  return [
    `## edgekv soak, ${new Date(runStart).toISOString()}`,
    "",
    `${observations.length} requests in ${elapsed.toFixed(1)} s (${(observations.length / elapsed).toFixed(0)}/s), ${opt.connections} connections. ` +
      `Origins reached ${v.originHits} times. Site versions served: ${versions.size}${deployed ? (newVersionSeen ? " (the one deployed under load included)" : " (the version deployed under load was NOT seen)") : ""}. Splitter answers checked for stickiness: ${st.flips.length}.`,
    "",
    "### Responses by kind and status",
    "",
    statusTable(observations),
    "",
    "### Faults injected",
    "",
    table(
      ["fault", "from (s)", "to (s)", "responses it explains"],
      faults.map((f) => [f.name, ((f.start - runStart) / 1000).toFixed(1), ((f.end - runStart) / 1000).toFixed(1), v.explained.get(f.name) ?? 0]),
    ),
    "",
    "### Unexplained errors",
    "",
    v.unexplained.size
      ? table(
          ["what", "count"],
          [...v.unexplained].map(([k, n]) => [k, n]),
        )
      : "none",
    "",
    "### Wrong decisions",
    "",
    v.wrong.size
      ? table(
          ["what", "count"],
          [...v.wrong].slice(0, 50).map(([k, n]) => [k, n]),
        )
      : "none",
    "",
    "### workerd memory (RSS)",
    "",
    table(
      ["Worker", "before", "after"],
      Object.keys(mem.before).map((k) => [k, mib(mem.before[k]!), mib(mem.after[k]!)]),
    ),
  ].join("\n");
}

async function main(): Promise<number> {
  process.env.WRANGLER_SEND_METRICS ??= "false";
  const opt = options(process.argv.slice(2));
  const t0 = Date.now();
  const log = (s: string) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${s}\n`);
  const work = await mkdtemp(join(tmpdir(), "edgekv-soak-"));
  const cleanups: (() => Promise<void>)[] = [];
  // Ctrl-C, SIGTERM, SIGHUP: stop what was started, remove the work folder (a SIGKILL is the watchdog's, scripts/supervise.ts).
  onStopSignals(async () => {
    for (const c of cleanups.splice(0)) await c().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  });
  try {
    const topo = await setup(work, log, cleanups);
    const before = await memory(topo.pids);

    const users = Array.from({ length: 300 }, (_, i) => `soakuser${String(i).padStart(4, "0")}x`);
    const st = newRunState(opt.seconds);
    log(`load: ${opt.seconds} s, ${opt.connections} connections (site pages + assets, splitter users, gate tokens)`);
    await Promise.all([...Array.from({ length: opt.connections }, () => trafficLoop(st, topo, users)), chaos(st, topo, opt.seconds, log)]);
    const elapsed = (Date.now() - st.runStart) / 1000;
    await sleep(200);
    const after = await memory(topo.pids);

    const verdicts = judge(st, topo);
    console.log(renderReport(st, verdicts, opt, elapsed, { before, after }));
    const failed = verdicts.unexplained.size > 0 || verdicts.wrong.size > 0;
    if (failed && topo.workerLogs.length) {
      log("last Worker log lines:");
      for (const line of topo.workerLogs.filter((l) => /error|exception/i.test(l)).slice(-15)) log(`  ${line.slice(0, 300)}`);
    }
    log(failed ? "FAILED: unexplained errors or wrong decisions (see above)" : "passed: every error explained by an injected fault, no wrong decision");
    return failed ? 1 : 0;
  } finally {
    for (const c of cleanups.splice(0)) await c().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(2);
    },
  );
}
