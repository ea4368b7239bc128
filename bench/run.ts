// `npm run bench [-- --quick]`: what the edgekv Workers add to a request, measured
// in workerd (Miniflare) over loopback against baseline Workers in the same run,
// plus the cost of `edgekv site deploy` next to `wrangler kv bulk put`.
// Results: a Markdown table on stdout, JSON + Markdown + SVG in bench/results/.
// See docs/benchmarks.md.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, hostname, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { deployBench, deployTable, deployViolations, type DeployRow } from "./lib/deploy.ts";
import { startOriginProcess } from "../scripts/origin.ts";
import { onStopSignals } from "../scripts/supervise.ts";
import { load, type LoadRequest } from "./lib/load.ts";
import { bundleWorker, cpuMs, startWorker, type RunningWorker } from "../scripts/runtime.ts";
import { profileReport, profileSide, type SideProfile } from "./lib/profile.ts";
import { costPerKiB, firstRequests, firstTable, PAD_BYTES, paddingModule, type FirstRow, type FirstTarget } from "./lib/first.ts";
import { FLOORS } from "./lib/floors.ts";
import { casesTable, floorTable, kvPerRequest, ratioChart, ratioSpread, spread, table, type CaseResult, type Target } from "./lib/stats.ts";
import { edgekvOk as cli } from "../scripts/edgekv-in-process.ts";
import { gateCases, type GateStart } from "./lib/gate.ts";
import { LOOP_REQUESTS, LOOP_ROUNDS, measureCode } from "./lib/code.ts";
import { ROOT } from "../scripts/wrangler-dev.ts";

const HELLO_WORLD = `// Baseline for the site: a hello-world Worker answering the asked status and byte count from memory.
const body = new Uint8Array(2 * 1024 * 1024).fill(97);
export default {
  fetch(request) {
    const u = new URL(request.url);
    const status = Number(u.searchParams.get("s") ?? 200);
    const n = Number(u.searchParams.get("n") ?? 12);
    if (status === 304 || request.method === "HEAD") return new Response(null, { status, headers: { "content-length": String(n) } });
    return new Response(body.subarray(0, n), { status, headers: { "content-type": "text/html" } });
  },
};`;

const BARE_PROXY = `// Baseline for the splitter and the gate: a bare pass-through proxy to the same origin.
export default {
  fetch(request, env) {
    const u = new URL(request.url);
    return fetch(env.ORIGIN + u.pathname + u.search, request);
  },
};`;

interface Side {
  worker: RunningWorker;
  req: Omit<LoadRequest, "url"> & { path: string };
}

interface Case {
  id: string;
  worker: CaseResult["worker"];
  label: string;
  baseline: string;
  expect: number;
  a: Side;
  b: Side;
  target: Target;
  /**
   * What the case is also measured against, in the same alternation (A B F A B F ...): a floor of
   * bench/lib/floors.ts by name (it is sent A's own request), or any other side with its label.
   */
  floor?: string | { label: string; side: Side; expect?: number };
}

interface Options {
  quick: boolean;
  pairs: number;
  seconds: number;
  connections: number;
  deploySizes: number[];
  only: string | undefined;
  kvSamples: number;
  /** `--profile CASE`: record CPU profiles of that case and its baseline instead of the A/B runs. */
  profile: string | undefined;
  /** `--check`: exit 1 when a deploy breaks DEPLOY_BOUNDS (bench/lib/deploy.ts). */
  check: boolean;
  /** `--first N`: rounds of first requests in fresh isolates (0: none). */
  first: number;
  /** `--out NAME`: write bench/results/NAME.md (e.g. a before/after of issue 26) instead of latest.*. */
  out: string | undefined;
}

function fail(message: string): never {
  throw new Error(message);
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean" },
      pairs: { type: "string" },
      seconds: { type: "string" },
      connections: { type: "string" },
      deploy: { type: "string" },
      only: { type: "string" },
      profile: { type: "string" },
      check: { type: "boolean" },
      first: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(`Usage: npm run bench -- [--quick] [--pairs N] [--seconds S] [--connections C] [--deploy 1000,20000[,100000]|none] [--only PREFIX] [--check]
  --quick         5 short pairs per case and the 1,000-file deploy only (under 2 minutes)
  --pairs N       A/B pairs per case (default 7, quick 5; at least 5 for a published figure)
  --seconds S     length of each run (default 3, quick 0.3)
  --connections C concurrent connections (default 16)
  --deploy LIST   site sizes for the deploy benchmark (default 1000,20000; quick 1000; none to skip);
                  add 100000 for Static Assets' Paid limit (about 15 minutes more on 2 cores)
  --only PREFIX   run only the cases whose id starts with PREFIX, or one of a comma list (site, gate, site-304,site-html); "deploy": the deploy benchmark only;
                  "first": the first requests only
  --first N       rounds of first requests, each Worker in a fresh workerd (default 5, quick 3; 0 skips them;
                  run with the full bench or --only first)
  --out NAME      write bench/results/NAME.md instead of latest.{md,svg,json} (NAME: letters, digits, - and _)
  --check         exit 1 when a deploy breaks issue 23's bounds: peak RSS under 512 MB, an unchanged
                  redeploy 0 KV writes, one file changed 4 (CI: --only deploy --deploy 20000 --check)
  --profile CASE  CPU-profile one case (e.g. site-304, gate-valid) and its baseline through workerd's
                  inspector: writes bench/results/profiles/CASE{,-baseline}.cpuprofile, prints the split
                  between the Worker's own JS and the runtime, and the top functions by self time`);
    process.exit(0);
  }
  const quick = values.quick === true;
  const num = (raw: string | undefined, dflt: number, name: string) => {
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got "${raw}"`);
    return n;
  };
  const deployRaw = values.deploy ?? (quick ? "1000" : "1000,20000");
  return {
    quick,
    pairs: Math.round(num(values.pairs, quick ? 5 : 7, "pairs")),
    seconds: num(values.seconds, quick ? 0.3 : 3, "seconds"),
    connections: Math.round(num(values.connections, 16, "connections")),
    deploySizes: deployRaw === "none" ? [] : deployRaw.split(",").map((s) => Math.round(num(s, 0, "deploy"))),
    only: values.only,
    kvSamples: quick ? 20 : 100,
    profile: values.profile,
    check: values.check === true,
    out: values.out === undefined || /^[\w-]{1,64}$/.test(values.out) ? values.out : fail(`--out must be letters, digits, - or _, got "${values.out}"`),
    first: values.first === "0" ? 0 : Math.round(num(values.first, quick ? 3 : 5, "first")),
  };
}

/** A small HTML page (about 6 KB, compressible, so a br variant is stored) and a 1 MiB incompressible asset. */
async function writeBenchSite(dir: string): Promise<void> {
  const rows = Array.from({ length: 60 }, (_, i) => `<li><a href="/docs/${i}">Section ${i}</a>: what edgekv does at the edge, part ${i}.</li>`).join("\n");
  await writeFile(
    join(dir, "index.html"),
    `<!doctype html><html><head><meta charset="utf-8"><title>edgekv bench</title></head><body><h1>edgekv</h1><ul>\n${rows}\n</ul></body></html>\n`,
  );
  await writeFile(join(dir, "big.bin"), randomBytes(1024 * 1024));
}

async function expectStatus(side: Side, expected: number, id: string): Promise<Response> {
  const res = await fetch(side.worker.url + side.req.path, { method: side.req.method ?? "GET", headers: side.req.headers ?? {} });
  await res.arrayBuffer();
  if (res.status !== expected)
    throw new Error(`${id}: ${side.worker.name} ${side.req.path} ${JSON.stringify(side.req.headers ?? {})} answered ${res.status}, expected ${expected}`);
  return res;
}

async function measureRun(side: Side, seconds: number, connections: number) {
  const pid = side.worker.pid;
  const before = pid ? await cpuMs(pid) : Number.NaN;
  const r = await load(
    {
      url: side.worker.url + side.req.path,
      ...(side.req.method ? { method: side.req.method } : {}),
      ...(side.req.headers ? { headers: side.req.headers } : {}),
    },
    seconds,
    connections,
  );
  const after = pid ? await cpuMs(pid) : Number.NaN;
  return { ...r, cpuUsPerReq: r.requests > 0 ? ((after - before) * 1000) / r.requests : Number.NaN };
}

type Run = Awaited<ReturnType<typeof measureRun>>;

/** The side a case's floor is measured on: the named floor Worker sent A's own request, or the side given. */
function floorSide(c: Case, floors: Record<string, RunningWorker>): { label: string; side: Side; expect?: number } | undefined {
  if (c.floor === undefined) return undefined;
  if (typeof c.floor !== "string") return c.floor;
  const worker = floors[c.floor];
  if (!worker) throw new Error(`${c.id}: no floor Worker "${c.floor}" (bench/lib/floors.ts FLOORS)`);
  return { label: c.floor, side: { worker, req: c.a.req } };
}

/** Warm-up (discarded), then N alternating rounds A B (F). */
async function measurePairs(c: Case, f: Side | undefined, opt: Options) {
  const sides = f ? [c.a, c.b, f] : [c.a, c.b];
  for (const side of sides) await measureRun(side, Math.min(0.5, opt.seconds), opt.connections);
  const runs: { pair: number; a: Run; b: Run; f?: Run }[] = [];
  for (let i = 0; i < opt.pairs; i++) {
    const [a, b, fr] = [
      await measureRun(c.a, opt.seconds, opt.connections),
      await measureRun(c.b, opt.seconds, opt.connections),
      f && (await measureRun(f, opt.seconds, opt.connections)),
    ];
    const bad = Object.keys(a.statuses).filter((s) => Number(s) !== c.expect);
    if (bad.length) throw new Error(`${c.id}: unexpected statuses under load: ${JSON.stringify(a.statuses)}`);
    runs.push({ pair: i + 1, a, b, ...(fr ? { f: fr } : {}) });
  }
  return runs;
}

/** Steady-state KV operations per request, from Server-Timing, after the load. */
async function kvSamples(side: Side, n: number): Promise<(string | null)[]> {
  const headers: (string | null)[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(side.worker.url + side.req.path, { method: side.req.method ?? "GET", headers: side.req.headers ?? {} });
    await res.arrayBuffer();
    headers.push(res.headers.get("server-timing"));
  }
  return headers;
}

async function runCase(
  c: Case,
  opt: Options,
  floors: Record<string, RunningWorker>,
  stops: (() => Promise<void>)[],
  log: (s: string) => void,
): Promise<CaseResult & { runs: unknown[] }> {
  await expectStatus(c.a, c.expect, c.id);
  const fl = floorSide(c, floors);
  if (fl) await expectStatus(fl.side, fl.expect ?? c.expect, `${c.id} floor`);
  const runs = await measurePairs(c, fl?.side, opt);
  // The same two sides without HTTP, in the isolate (bench/lib/code.ts): what their code alone costs.
  const code = fl && (await measureCode({ ...c.a, expect: c.expect }, { ...fl.side, expect: fl.expect ?? c.expect }, stops));
  const med = (xs: number[]) => spread(xs).median;
  const vsFloor = (get: (r: Run) => number) => ratioSpread(runs.map((r) => ({ a: get(r.a), b: r.f ? get(r.f) : Number.NaN })));
  const result = {
    id: c.id,
    worker: c.worker,
    label: c.label,
    baseline: c.baseline,
    status: c.expect,
    rps: ratioSpread(runs.map((r) => ({ a: r.a.rps, b: r.b.rps }))),
    p50: ratioSpread(runs.map((r) => ({ a: r.a.p50, b: r.b.p50 }))),
    p99: ratioSpread(runs.map((r) => ({ a: r.a.p99, b: r.b.p99 }))),
    cpu: ratioSpread(runs.map((r) => ({ a: r.a.cpuUsPerReq, b: r.b.cpuUsPerReq }))),
    abs: {
      rpsA: med(runs.map((r) => r.a.rps)),
      rpsB: med(runs.map((r) => r.b.rps)),
      p50A: med(runs.map((r) => r.a.p50)),
      p50B: med(runs.map((r) => r.b.p50)),
      p99A: med(runs.map((r) => r.a.p99)),
      p99B: med(runs.map((r) => r.b.p99)),
      cpuA: med(runs.map((r) => r.a.cpuUsPerReq)),
      cpuB: med(runs.map((r) => r.b.cpuUsPerReq)),
    },
    ...(fl
      ? {
          floor: {
            label: fl.label,
            cpu: vsFloor((r) => r.cpuUsPerReq),
            rps: vsFloor((r) => r.rps),
            cpuF: med(runs.map((r) => r.f?.cpuUsPerReq ?? Number.NaN)),
            ...(code ? { code } : {}),
          },
        }
      : {}),
    kv: kvPerRequest(await kvSamples(c.a, opt.kvSamples)),
    target: c.target,
    pairs: runs.length,
    runs,
  };
  const gap = code ? `, own code ${code.gap.median >= 0 ? "+" : ""}${code.gap.median.toFixed(1)} µs/req` : "";
  const vs = result.floor ? `, vs ${result.floor.label} cpu x${result.floor.cpu.median.toFixed(2)}${gap}` : "";
  log(
    `  ${c.id.padEnd(16)} rps ${result.abs.rpsA.toFixed(0)} vs ${result.abs.rpsB.toFixed(0)} (x${result.rps.median.toFixed(2)}), ` +
      `cpu ${result.abs.cpuA.toFixed(0)} vs ${result.abs.cpuB.toFixed(0)} µs/req${vs}, kv reads/req ${result.kv.reads.toFixed(2)}`,
  );
  return result;
}

interface BundleSize {
  env: string;
  bytes: number;
  gzipBytes: number;
  budgetKiB: number;
}

async function bundleSizes(): Promise<BundleSize[]> {
  const mod = (await import(pathToFileURL(join(ROOT, "scripts", "dry-run.mjs")).href)) as { measure: (env: string) => BundleSize };
  return (["site", "splitter", "auth"] as const).map((env) => mod.measure(env));
}

function machine(): string {
  const c = cpus();
  return `${c.length} × ${c[0]?.model.trim() ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.versions.node}`;
}

interface BenchWorkers {
  site: RunningWorker;
  splitter: RunningWorker;
  auth: RunningWorker;
  hello: RunningWorker;
  proxy: RunningWorker;
  /** The floors of bench/lib/floors.ts, by name. */
  floors: Record<string, RunningWorker>;
}

interface Tokens {
  token: string;
  revoked: string;
}

/** The bench site, the rollout (blue/green both on the origin) and two tokens, one of them revoked, written with the CLI. */
async function seed(work: string, persist: string, originUrl: string): Promise<Tokens> {
  const siteDir = join(work, "site");
  await mkdir(siteDir);
  await writeBenchSite(siteDir);
  await cli(["site", "deploy", siteDir, "--precompress", "--json"], persist);
  await cli(["rollout", "init", "--blue", `${originUrl}/blue`, "--green", `${originUrl}/green`, "--live", "blue", "--percent", "50"], persist);
  const issue = async (user: string) =>
    (JSON.parse(await cli(["token", "issue", "--user", user, "--ttl", "86400", "--json"], persist)) as { token: string }).token;
  const token = await issue("bench");
  const revoked = await issue("gone");
  await cli(["token", "revoke", "--user", "gone", "--yes"], persist); // its only token (never a token on argv)
  return { token, revoked };
}

/** The three Workers from their minified bundles, and the two baselines, each in its own workerd. */
async function startBenchWorkers(
  persist: string,
  originUrl: string,
  stops: (() => Promise<void>)[],
  log: (s: string) => void,
  profiling = false,
): Promise<BenchWorkers> {
  // Profiles want function names, so the bundle is not minified then (same code, same CPU).
  const [siteJs, splitterJs, authJs] = (await Promise.all((["site", "splitter", "auth"] as const).map((e) => bundleWorker(e, !profiling)))) as [
    string,
    string,
    string,
  ];
  const inspect = profiling ? { inspectorPort: 0 } : {};
  const site = await startWorker({ name: "site", env: "site", modules: [{ path: "index.js", contents: siteJs }], persistTo: persist, ...inspect });
  const splitter = await startWorker({
    name: "splitter",
    env: "splitter",
    modules: [{ path: "index.js", contents: splitterJs }],
    persistTo: persist,
    ...inspect,
  });
  const auth = await startWorker({
    ...inspect,
    name: "auth",
    env: "auth",
    modules: [{ path: "index.js", contents: authJs }],
    persistTo: persist,
    vars: { ORIGIN_URL: `${originUrl}/blue` },
    // One client IP sends every request here: with the limiter, the malformed-token
    // case would measure the 429 path after 20 failures. See docs/benchmarks.md.
    drop: ["FAILED_AUTH_LIMITER"],
  });
  const hello = await startWorker({ name: "hello-world", modules: [{ path: "hello.js", contents: HELLO_WORLD }], ...inspect });
  const proxy = await startWorker({
    name: "bare-proxy",
    modules: [{ path: "proxy.js", contents: BARE_PROXY }],
    vars: { ORIGIN: `${originUrl}/blue` },
    ...inspect,
  });
  const floors: Record<string, RunningWorker> = {};
  for (const [name, f] of Object.entries(FLOORS)) {
    const vars = f.originVar ? { [f.originVar]: `${originUrl}/blue` } : {};
    const floor = { name, env: f.env, modules: [{ path: "floor.js", contents: f.source }], persistTo: persist, vars, drop: f.drop ?? [] };
    floors[name] = await startWorker({ ...floor, ...inspect });
  }
  for (const w of [site, splitter, auth, hello, proxy, ...Object.values(floors)]) {
    stops.push(() => w.stop());
    if (w.pid === null) log(`  warning: could not identify the workerd process of ${w.name}; its CPU figures are n/a`);
  }
  return { site, splitter, auth, hello, proxy, floors };
}

/** Issue 26: a Range on a page the isolate holds is served from its bytes: 0 reads, within 1.2x of the site's full 200. */
function rangeHotCase(w: BenchWorkers): Case {
  const site = w.site;
  const h = (path: string): Side => ({ worker: w.hello, req: { path } });
  return {
    id: "site-range-hot",
    worker: "site",
    label: "site Range 1 KiB of a held page",
    baseline: "hello-world",
    expect: 206,
    a: { worker: site, req: { path: "/", headers: { range: "bytes=1024-2047" } } },
    b: h("/?n=1024"),
    target: { readsMax: 0 },
    floor: { label: "site full 200", side: { worker: site, req: { path: "/" } }, expect: 200 },
  };
}

/** The site's cases, each next to hello-world answering the same status and bytes. */
async function siteCases(w: BenchWorkers): Promise<Case[]> {
  const { site } = w;
  const index = await fetch(`${site.url}/`);
  const html = await index.arrayBuffer();
  // The identity ETag (undici's fetch asks for br): the floor compares If-None-Match with it; the site matches every variant alike.
  const etag = (index.headers.get("etag") ?? "").replace(/-(?:br|gz)"$/, '"');
  const br = await fetch(`${site.url}/`, { headers: { "accept-encoding": "br" } });
  const brBytes = (await br.arrayBuffer()).byteLength;
  if (br.headers.get("content-encoding") !== "br") throw new Error("site: no br variant for index.html");
  const h = (path: string, extra: Omit<Side["req"], "path"> = {}): Side => ({ worker: w.hello, req: { path, ...extra } });
  const cases: Case[] = [
    {
      id: "site-html",
      worker: "site",
      label: "site 200 small HTML",
      baseline: "hello-world",
      expect: 200,
      a: { worker: site, req: { path: "/" } },
      b: h(`/?n=${html.byteLength}`),
      target: { rpsMin: 0.8, readsMax: 1 },
      floor: "site-floor",
    },
    {
      id: "site-1mib",
      worker: "site",
      label: "site 200 1 MiB asset",
      baseline: "hello-world",
      expect: 200,
      a: { worker: site, req: { path: "/big.bin" } },
      b: h(`/?n=${1024 * 1024}`),
      target: { rpsMin: 0.8, readsMax: 1 },
    },
    {
      id: "site-304",
      worker: "site",
      label: "site 304",
      baseline: "hello-world",
      expect: 304,
      a: { worker: site, req: { path: "/", headers: { "if-none-match": etag } } },
      b: h("/?s=304"),
      target: { rpsMin: 0.9, readsMax: 0 },
      floor: "site-floor",
    },
    {
      id: "site-head",
      worker: "site",
      label: "site HEAD",
      baseline: "hello-world",
      expect: 200,
      a: { worker: site, req: { path: "/", method: "HEAD" } },
      b: h(`/?n=${html.byteLength}`, { method: "HEAD" }),
      target: { rpsMin: 0.9, readsMax: 0 },
    },
    {
      id: "site-range",
      worker: "site",
      label: "site Range 4 KiB",
      baseline: "hello-world",
      expect: 206,
      a: { worker: site, req: { path: "/big.bin", headers: { range: "bytes=4096-8191" } } },
      b: h("/?n=4096"),
      target: { readsMax: 1 },
    },
    rangeHotCase(w),
    {
      id: "site-br",
      worker: "site",
      label: "site 200 br",
      baseline: "hello-world",
      expect: 200,
      a: { worker: site, req: { path: "/", headers: { "accept-encoding": "br" } } },
      b: h(`/?n=${brBytes}`),
      target: { rpsMin: 0.8, readsMax: 1 },
    },
  ];
  // The same 200 and 304 against the floor that also sends the headers issues asked the site for: what those headers cost.
  const withHeaders = (c: Case): Case => ({ ...c, id: `${c.id}-h`, label: `${c.label}, floor with the site's headers`, floor: "site-floor-headers" });
  return [...cases, ...cases.filter((c) => c.id === "site-html" || c.id === "site-304").map(withHeaders)];
}

/** Every A/B case: each edgekv request kind next to a baseline answering the same status and bytes. */
async function buildCases(w: BenchWorkers, { token, revoked }: Tokens, only: string | undefined, gate: Omit<GateStart, "auth" | "proxy">): Promise<Case[]> {
  const { splitter } = w;
  const p = (path: string, extra: Omit<Side["req"], "path"> = {}): Side => ({ worker: w.proxy, req: { path, ...extra } });
  const cases: Case[] = [
    ...(await siteCases(w)),
    {
      id: "splitter-sticky",
      worker: "splitter",
      label: "splitter, sticky cookie",
      baseline: "bare proxy",
      expect: 200,
      a: { worker: splitter, req: { path: "/api/x", headers: { cookie: "edgekv_id=benchuser0123456789" } } },
      b: p("/api/x"),
      target: { rpsMin: 0.9, readsMax: 0 },
      floor: "splitter-floor",
    },
    {
      id: "splitter-new",
      worker: "splitter",
      label: "splitter, new visitor",
      baseline: "bare proxy",
      expect: 200,
      a: { worker: splitter, req: { path: "/api/x" } },
      b: p("/api/x"),
      target: { rpsMin: 0.9, readsMax: 0 },
    },
    // ---- gate cases (issue 26; bench/lib/gate.ts): against the bare proxy, its floor, and with an assertion ----
    ...(only === undefined || only.split(",").some((o) => o.startsWith("gate") || "gate".startsWith(o))
      ? await gateCases({ ...gate, auth: w.auth, proxy: w.proxy }, token, revoked)
      : []),
    // ---- end of gate cases ----
  ];
  return cases.filter((c) => !only || only.split(",").some((p) => c.id.startsWith(p)));
}

function sizeTable(sizes: readonly BundleSize[]): string {
  return table(
    ["Worker", "minified", "gzip", "target (gzip)", "verdict"],
    sizes.map((s) => [
      s.env,
      `${(s.bytes / 1024).toFixed(2)} KiB`,
      `${(s.gzipBytes / 1024).toFixed(2)} KiB`,
      `≤ ${s.budgetKiB} KiB`,
      s.gzipBytes <= s.budgetKiB * 1024 ? "met" : "missed",
    ]),
  );
}

/**
 * What `--first` starts fresh: hello-world, hello-world with PAD_BYTES of generated code (the price
 * of a KiB), and each Worker's minified bundle with its request of the bench (the site's page, a
 * sticky visitor, a valid token, the control Worker's status page).
 */
async function firstTargets(persist: string, originUrl: string, token: string): Promise<FirstTarget[]> {
  const [site, splitter, auth, control] = await Promise.all((["site", "splitter", "auth", "control"] as const).map((e) => bundleWorker(e, true)));
  const statusSecret = randomBytes(32).toString("base64url");
  const mod = (path: string, contents: string) => [{ path, contents }];
  return [
    { name: "hello-world", spec: { modules: mod("hello.js", HELLO_WORLD) }, path: "/", expect: 200 },
    {
      name: `hello-world + ${PAD_BYTES / 1024} KiB of code`,
      spec: {
        modules: [
          { path: "hello.js", contents: `import { T } from "./pad.js";\nglobalThis.padRows = T.length;\n${HELLO_WORLD}` },
          { path: "pad.js", contents: paddingModule(PAD_BYTES) },
        ],
      },
      path: "/",
      expect: 200,
    },
    { name: "site", spec: { env: "site", modules: mod("index.js", site!), persistTo: persist }, path: "/", expect: 200 },
    {
      name: "splitter",
      spec: { env: "splitter", modules: mod("index.js", splitter!), persistTo: persist },
      path: "/api/x",
      headers: { cookie: "edgekv_id=benchuser0123456789" },
      expect: 200,
    },
    {
      name: "auth",
      spec: { env: "auth", modules: mod("index.js", auth!), persistTo: persist, vars: { ORIGIN_URL: `${originUrl}/blue` }, drop: ["FAILED_AUTH_LIMITER"] },
      path: "/api/x",
      headers: { authorization: `Bearer ${token}` },
      expect: 200,
    },
    {
      name: "control",
      spec: { env: "control", modules: mod("index.js", control!), persistTo: persist, vars: { STATUS_SECRET: statusSecret } },
      path: "/__edgekv/status.json",
      headers: { authorization: `Bearer ${statusSecret}` },
      expect: 200,
    },
  ];
}

/** The first-requests section: the table and what a KiB of bundle costs. */
function firstSection(rows: readonly FirstRow[]): string[] {
  if (!rows.length) return [];
  const perKiB = costPerKiB(rows[0]!, rows[1]!);
  return [
    "",
    "### First request in a fresh isolate (issue 26)",
    "",
    "Each round starts every Worker in a fresh workerd, in turn, and sends it one request, then a second. CPU is the workerd process's, summed over its threads' schedstat (ns); median (min–max) over the rounds. workerd compiles and evaluates the modules before it answers ready, so module evaluation is in the ready column; config parsing (per isolate, lazy), the first KV reads and cold code are in the first request.",
    "",
    firstTable(rows),
    "",
    `A KiB of bundle (gzip) costs about ${perKiB.toFixed(2)} ms of CPU on a first request here (hello-world with ${PAD_BYTES / 1024} KiB of generated code, ${((rows[1]!.gzipBytes - rows[0]!.gzipBytes) / 1024).toFixed(1)} KiB gzip, against hello-world).`,
  ];
}

interface Outcome {
  when: string;
  first: FirstRow[];
  results: (CaseResult & { runs: unknown[] })[];
  sizes: BundleSize[];
  deploys: DeployRow[];
  tookSeconds: number;
}

/** The run as Markdown: the cases, the bundle sizes, the deploy tool, and how to reproduce it. */
function renderMarkdown(opt: Options, o: Outcome): string {
  return [
    `## edgekv bench${opt.quick ? " (--quick)" : ""}, ${o.when}`,
    "",
    `Machine: ${machine()}. Workers in workerd via Miniflare ${"(one workerd per Worker)"}, loopback, autocannon, ${opt.connections} connections, ${opt.pairs} alternating A/B pairs of ${opt.seconds} s per case. Ratios are A / baseline: median (min–max) over the pairs. CPU is the workerd process's user+system time per request (/proc). Targets from issue 7 are reported, not asserted.`,
    "",
    casesTable(o.results),
    ...(o.results.some((r) => r.floor)
      ? [
          "",
          "### Against the floor (issue 26)",
          "",
          `The floor is the least code that does the same job correctly (bench/lib/floors.ts), on the same KV state, sent the same request, measured in the same alternation (A, baseline, floor). Target: CPU per request within 1.15x of the floor; for the Range on a held page, within 1.2x of the site's full 200. Own code: a copy of each side runs its \`fetch\` ${LOOP_REQUESTS} times inside one request, on Requests built in the isolate, with \`fetch\` answered in the isolate (bench/lib/code.ts): median (min–max) of ${LOOP_ROUNDS} alternated rounds, with the gap A − floor per round. The implied ratio is (floor's CPU per request + gap) / floor's: the A/B ratio if the two differed by their code alone. The gap, paired per round, is steadier than an A/B pair, which moves ±20% here.`,
          "",
          floorTable(o.results, { "site-range-hot": 1.2 }),
        ]
      : []),
    ...firstSection(o.first),
    "",
    "### Bundle size (`wrangler deploy --dry-run --minify`, gzip -9)",
    "",
    sizeTable(o.sizes),
    ...(o.deploys.length
      ? [
          "",
          "### Deploy tool (`edgekv site deploy` vs `wrangler kv bulk put --local`)",
          "",
          deployTable(o.deploys),
          "",
          "Targets: unchanged redeploy of 1,000 files under 3 s with 0 writes; a first deploy of 1,000 files in at most 1,010 KV writes (issue 12); with `--remote`, at most 2 write requests per started 10,000 keys written (issue 13); " +
            "a one-file change in 4 KV writes (1 blob + 1 shard + 1 index + 1 pointer) at any size, and a 100,000-file deploy under 512 MB peak RSS (issue 23; `--deploy 1000,20000,100000`). " +
            "Peak RSS is the `edgekv` process's own (getrusage), not the local workerd it talks to.",
        ]
      : []),
    "",
    `Reproduce: \`npm run bench${opt.quick ? " -- --quick" : ""}\` (took ${o.tookSeconds} s).`,
  ].join("\n");
}

/** bench/results/: latest.{md,svg,json} and a timestamped JSON of every pair. */
async function writeResults(opt: Options, o: Outcome, md: string, log: (s: string) => void): Promise<void> {
  const outDir = join(ROOT, "bench", "results");
  await mkdir(outDir, { recursive: true });
  const stamp = o.when.replace(/[:.]/g, "-");
  const json = { when: o.when, quick: opt.quick, machine: machine(), host: hostname(), options: opt, cases: o.results, sizes: o.sizes, deploys: o.deploys };
  const svg = ratioChart(o.results, `edgekv vs baseline Workers, ${o.when.slice(0, 10)}${opt.quick ? " (quick)" : ""}`);
  await writeFile(join(outDir, `bench-${stamp}.json`), `${JSON.stringify(json, null, 2)}\n`);
  if (opt.out !== undefined) {
    await writeFile(join(outDir, `${opt.out}.md`), `${md}\n`);
    return log(`wrote bench/results/${opt.out}.md and bench-${stamp}.json`);
  }
  if (opt.only === "deploy") {
    // A deploy-only run leaves the full run's latest.* alone.
    await writeFile(join(outDir, "deploy.md"), `${md}\n`);
    return log(`wrote bench/results/deploy.md and bench-${stamp}.json`);
  }
  await writeFile(join(outDir, "latest.json"), `${JSON.stringify(json, null, 2)}\n`);
  await writeFile(join(outDir, "latest.md"), `${md}\n\n![ratios](latest.svg)\n`);
  await writeFile(join(outDir, "latest.svg"), `${svg}\n`);
  log(`wrote bench/results/latest.{md,svg,json} and bench-${stamp}.json`);
}

/** The module name each Worker was started with: frames from it are the Worker's own code. */
const SCRIPT: Record<string, string> = {
  "hello-world": "hello.js",
  "bare-proxy": "proxy.js",
  ...Object.fromEntries(Object.keys(FLOORS).map((n) => [n, "floor.js"])),
};

/** `--profile CASE`: that case and its baseline, each loaded under the profiler; a report and two .cpuprofile files. */
async function profileCase(c: Case, opt: Options, floors: Record<string, RunningWorker>, log: (s: string) => void): Promise<void> {
  await expectStatus(c.a, c.expect, c.id);
  const fl = floorSide(c, floors);
  const run = (url: string, req: Side["req"]) =>
    load({ url, ...(req.method ? { method: req.method } : {}), ...(req.headers ? { headers: req.headers } : {}) }, opt.seconds, opt.connections);
  // Warm both sides (JIT, isolate caches) before recording.
  const all: [string, Side][] = [[c.label, c.a], [c.baseline, c.b], ...(fl ? [[fl.label, fl.side] as [string, Side]] : [])];
  for (const [, side] of all) await run(side.worker.url + side.req.path, side.req);
  const sides: SideProfile[] = [];
  for (const [label, side] of all) {
    log(`profiling ${label} for ${opt.seconds} s...`);
    sides.push(await profileSide(label, { ...side, script: SCRIPT[side.worker.name] ?? "index.js" }, run, cpuMs));
  }
  const dir = join(ROOT, "bench", "results", "profiles");
  await mkdir(dir, { recursive: true });
  const name = opt.out ?? c.id; // --out names a before/after pair
  await writeFile(join(dir, `${name}.cpuprofile`), JSON.stringify(sides[0]!.profile));
  await writeFile(join(dir, `${name}-baseline.cpuprofile`), JSON.stringify(sides[1]!.profile));
  if (sides[2]) await writeFile(join(dir, `${name}-floor.cpuprofile`), JSON.stringify(sides[2].profile));
  const md = `${profileReport(c.id, sides)}\n\nProfiles: bench/results/profiles/${name}.cpuprofile, ${name}-baseline.cpuprofile${sides[2] ? ` and ${name}-floor.cpuprofile` : ""} (Chrome DevTools or speedscope). Sampling every 50 µs adds its own CPU, so absolute figures are higher than in the A/B runs; compare the two sides.`;
  await writeFile(join(dir, `${name}.md`), `${md}\n`);
  console.log(md);
}

/** Seed with the CLI, then the first requests (fresh isolates) and the A/B cases (or `--profile` one case: undefined). */
async function workerPhase(
  opt: Options,
  work: string,
  persist: string,
  stops: (() => Promise<void>)[],
  log: (s: string) => void,
): Promise<Pick<Outcome, "results" | "first"> | undefined> {
  log("seeding with the edgekv CLI: site, rollout, tokens...");
  // In its own process, so it does not share the load generator's event loop.
  const origin = await startOriginProcess("bench", { reply: "brief", record: false, keepAliveTimeoutMs: 60_000 });
  stops.push(() => origin.stop());
  const tokens = await seed(work, persist, origin.url);
  let first: FirstRow[] = [];
  if (opt.profile === undefined && opt.first > 0 && (opt.only === undefined || opt.only === "first")) {
    log(`first requests: ${opt.first} rounds, each Worker in a fresh workerd...`);
    first = await firstRequests(await firstTargets(persist, origin.url, tokens.token), opt.first, log);
  }
  const results: Outcome["results"] = [];
  if (opt.only === "first") return { results, first };

  log("bundling and starting workerd instances (Miniflare): site, splitter, auth, hello-world, bare proxy, floors...");
  const workers = await startBenchWorkers(persist, origin.url, stops, log, opt.profile !== undefined);
  const inspect = opt.profile === undefined ? {} : { inspectorPort: 0 };
  const cases = await buildCases(workers, tokens, opt.only, { persist, originUrl: `${origin.url}/blue`, stops, inspect });
  if (opt.profile !== undefined) {
    const c = cases.find((x) => x.id === opt.profile);
    if (!c) throw new Error(`--profile: no case "${opt.profile}"; cases: ${cases.map((x) => x.id).join(", ")}`);
    await profileCase(c, opt, workers.floors, log);
    return undefined;
  }
  log(`running ${cases.length} cases, A B (floor) A B (floor) ...`);
  for (const c of cases) results.push(await runCase(c, opt, workers.floors, stops, log));
  for (const stop of stops.splice(0).reverse()) await stop();
  return { results, first };
}

async function main(): Promise<void> {
  process.env.WRANGLER_SEND_METRICS ??= "false";
  const opt = options(process.argv.slice(2));
  const started = Date.now();
  const log = (s: string) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s] ${s}\n`);
  const work = await mkdtemp(join(tmpdir(), "edgekv-bench-"));
  const persist = join(work, "state");
  const stops: (() => Promise<void>)[] = [];
  // Ctrl-C, SIGTERM, SIGHUP: stop what was started, remove the work folder (scripts/supervise.ts; a SIGKILL is its watchdog's).
  onStopSignals(async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  });
  try {
    log(`edgekv bench${opt.quick ? " --quick" : ""}: ${opt.pairs} pairs × ${opt.seconds}s, ${opt.connections} connections; ${machine()}`);
    if (opt.profile === undefined) log("measuring bundle sizes (wrangler deploy --dry-run --minify)...");
    const sizes = opt.profile === undefined ? await bundleSizes() : [];

    const phase = opt.only === "deploy" ? { results: [], first: [] } : await workerPhase(opt, work, persist, stops, log);
    if (!phase) return; // --profile wrote its report
    const { results, first } = phase;

    const deploys: DeployRow[] = [];
    for (const n of opt.deploySizes) {
      log(`deploy benchmark: ${n} files...`);
      deploys.push(...(await deployBench(n, work, log, opt.quick)));
    }

    const outcome: Outcome = { when: new Date().toISOString(), first, results, sizes, deploys, tookSeconds: Math.round((Date.now() - started) / 1000) };
    const md = renderMarkdown(opt, outcome);
    console.log(md);
    await writeResults(opt, outcome, md, log);
    if (opt.check) {
      const broken = deployViolations(deploys);
      for (const line of broken) log(`check failed: ${line}`);
      if (broken.length) process.exitCode = 1;
      else log(`check passed: ${deploys.length} deploy rows within bounds`);
    }
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  });
}
