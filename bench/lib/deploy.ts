// The deploy-tool benchmark: a generated N-file site published with the real
// `edgekv site deploy --json` binary (first deploy, unchanged redeploy, one file
// changed), its KV operations and peak RSS recorded by kv-count-register.mjs, side
// by side with `wrangler kv bulk put --local` of the same files (up to
// WRANGLER_MAX_FILES: it has no diffing, so larger runs only repeat what it shows).
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { remoteProject, type RemoteProject } from "../../scripts/cf-api.ts";
import { ROOT } from "../../scripts/wrangler-dev.ts";
import { table } from "./stats.ts";

const run = promisify(execFile);
const REGISTER = fileURLToPath(new URL("./kv-count-register.mjs", import.meta.url));

export interface DeployRow {
  files: number;
  tool: "edgekv site deploy" | "edgekv site deploy --remote" | "wrangler kv bulk put";
  step: "first deploy" | "unchanged redeploy" | "one file changed";
  /** Wall time of the whole command, process start to exit. */
  wallMs: number;
  /** The tool's own figure where it reports one (edgekv's `ms`). */
  toolMs: number | null;
  blobsWritten: number | null;
  kv: { reads: number; readKeys: number; writes: number; deletes: number; lists: number };
  /** `--remote` only: requests to the Cloudflare API (the local stand-in, scripts/cf-api.ts), and how many of them write. */
  api?: { requests: number; writeRequests: number };
  /** edgekv only: the CLI process's peak resident set (MB) and its rate (the site's files over its own time). */
  peakRssMB?: number;
  filesPerSecond?: number;
}

/** Issue 23's bounds, checked by `npm run bench -- --check` (CI runs it at 20,000 files). */
export const DEPLOY_BOUNDS = { maxPeakRssMB: 512, oneFileChangedWrites: 4, unchangedWrites: 0 } as const;

/**
 * What in `rows` breaks DEPLOY_BOUNDS, one line each; empty when everything holds. Only
 * edgekv's own rows are judged (wrangler's are the comparison).
 * @example deployViolations(rows) // ["20000 files, edgekv site deploy, one file changed: 82 KV writes (bound 4)"]
 */
export function deployViolations(rows: readonly DeployRow[]): string[] {
  const out: string[] = [];
  for (const r of rows) {
    if (r.tool === "wrangler kv bulk put") continue;
    const at = `${r.files} files, ${r.tool}, ${r.step}`;
    if (r.peakRssMB !== undefined && r.peakRssMB >= DEPLOY_BOUNDS.maxPeakRssMB)
      out.push(`${at}: peak RSS ${r.peakRssMB} MB (bound: under ${DEPLOY_BOUNDS.maxPeakRssMB})`);
    const bound =
      r.step === "one file changed" ? DEPLOY_BOUNDS.oneFileChangedWrites : r.step === "unchanged redeploy" ? DEPLOY_BOUNDS.unchangedWrites : undefined;
    if (bound !== undefined && r.kv.writes !== bound) out.push(`${at}: ${r.kv.writes} KV writes (bound ${bound})`);
  }
  return out;
}

/** Above this many files, `wrangler kv bulk put` is left out: its cost per key does not change. */
export const WRANGLER_MAX_FILES = 20_000;

/**
 * The benchmark's site fixture: deterministic text files of 0.5–3 KB in folders of 100
 * (html, css, js, txt), so 100,000 files are 1,000 folders. Returns the relative paths.
 * @example const paths = await generateSite("/tmp/site", 20_000); // "d0/f0.html", ...
 */
export async function generateSite(dir: string, n: number): Promise<string[]> {
  const exts = ["html", "css", "js", "txt"];
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    const folder = join(dir, `d${Math.floor(i / 100)}`);
    if (i % 100 === 0) await mkdir(folder, { recursive: true });
    const rel = `d${Math.floor(i / 100)}/f${i}.${exts[i % exts.length]}`;
    const words = 60 + ((i * 7919) % 400);
    await writeFile(join(dir, rel), `/* file ${i} */\n${Array.from({ length: words }, (_, w) => `w${(i * 31 + w) % 997}`).join(" ")}\n`);
    paths.push(rel);
  }
  return paths;
}

async function edgekvDeploy(dir: string, persist: string, countFile: string): Promise<Omit<DeployRow, "files" | "tool" | "step">> {
  const started = performance.now();
  const { stdout } = await run(
    process.execPath,
    ["--import", REGISTER, join(ROOT, "cli", "bin.mjs"), "site", "deploy", dir, "--json", "--persist-to", persist],
    {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", EDGEKV_BENCH_KV_COUNT: countFile },
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const wallMs = performance.now() - started;
  const out = JSON.parse(stdout) as { newBlobs: number; ms: number; filesPerSecond: number };
  const { maxRssKiB, ...kv } = JSON.parse(await readFile(countFile, "utf8")) as DeployRow["kv"] & { maxRssKiB: number };
  return { wallMs, toolMs: out.ms, blobsWritten: out.newBlobs, kv, peakRssMB: Math.round(maxRssKiB / 1024), filesPerSecond: out.filesPerSecond };
}

async function bulkPut(file: string, persist: string, keys: number): Promise<Omit<DeployRow, "files" | "tool" | "step">> {
  const started = performance.now();
  await run(
    process.execPath,
    [
      join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js"),
      "kv",
      "bulk",
      "put",
      file,
      "--binding",
      "SITE_KV",
      "--env",
      "site",
      "--local",
      "--persist-to",
      persist,
    ],
    { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "1" }, maxBuffer: 16 * 1024 * 1024 },
  );
  // wrangler has no diffing: every key in the file is written again.
  return { wallMs: performance.now() - started, toolMs: null, blobsWritten: null, kv: { reads: 0, readKeys: 0, writes: keys, deletes: 0, lists: 0 } };
}

/**
 * Runs the three steps with both tools on fresh local state under `work`.
 * @example const rows = await deployBench(1000, tmp, console.error);
 */
/** One `edgekv site deploy --remote` against the API stand-in: keys written and requests, as the stand-in counted them. */
async function remoteDeploy(dir: string, p: RemoteProject, countFile: string): Promise<Omit<DeployRow, "files" | "tool" | "step">> {
  p.api.resetCounts();
  p.api.log.length = 0;
  const started = performance.now();
  const { stdout } = await run(
    process.execPath,
    ["--import", REGISTER, join(ROOT, "cli", "bin.mjs"), "site", "deploy", dir, "--json", "--remote", "--config", p.config],
    {
      cwd: ROOT,
      env: { ...process.env, ...p.env, NO_COLOR: "1", EDGEKV_BENCH_KV_COUNT: countFile },
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const wallMs = performance.now() - started;
  const out = JSON.parse(stdout) as { newBlobs: number; ms: number; filesPerSecond: number };
  const { maxRssKiB } = JSON.parse(await readFile(countFile, "utf8")) as { maxRssKiB: number };
  const counts = p.api.counts();
  const n = (route: string) => counts[route] ?? 0;
  const written = p.api.log.reduce((k, l) => k + (l.route === "PUT bulk" ? (l.keys ?? 0) : l.route === "PUT values" && l.status === 200 ? 1 : 0), 0);
  const requests = Object.values(counts).reduce((a, b) => a + b, 0);
  return {
    wallMs,
    toolMs: out.ms,
    blobsWritten: out.newBlobs,
    kv: { reads: n("GET values") + n("POST bulk/get"), readKeys: 0, writes: written, deletes: 0, lists: n("GET keys") },
    api: { requests, writeRequests: p.api.writeRequests() },
    peakRssMB: Math.round(maxRssKiB / 1024),
    filesPerSecond: out.filesPerSecond,
  };
}

export async function deployBench(n: number, work: string, log: (s: string) => void, quick = false): Promise<DeployRow[]> {
  const base = await mkdtemp(join(work, `deploy-${n}-`));
  const dir = join(base, "site");
  const paths = await generateSite(dir, n);
  const rows: DeployRow[] = [];
  const steps = ["first deploy", "unchanged redeploy", "one file changed"] as const;
  const changed = join(dir, paths[Math.floor(n / 2)]!);

  const edgekvState = join(base, "edgekv-state");
  for (const [i, step] of steps.entries()) {
    if (step === "one file changed") await writeFile(changed, `${await readFile(changed, "utf8")}changed\n`);
    const r = await edgekvDeploy(dir, edgekvState, join(base, `count-${i}.json`));
    rows.push({ files: n, tool: "edgekv site deploy", step, ...r });
    log(
      `  edgekv site deploy, ${n} files, ${step}: ${(r.wallMs / 1000).toFixed(1)} s (${r.filesPerSecond} files/s), ${r.blobsWritten} blobs, ` +
        `${r.kv.writes} writes, peak RSS ${r.peakRssMB} MB`,
    );
  }
  // The same three steps with --remote, against the local API stand-in (requests counted there).
  await writeFile(changed, (await readFile(changed, "utf8")).replace(/changed\n$/, ""));
  const project = await remoteProject();
  try {
    for (const [i, step] of steps.entries()) {
      if (step === "one file changed") await writeFile(changed, `${await readFile(changed, "utf8")}changed\n`);
      const r = await remoteDeploy(dir, project, join(base, `remote-count-${i}.json`));
      rows.push({ files: n, tool: "edgekv site deploy --remote", step, ...r });
      log(
        `  edgekv site deploy --remote, ${n} files, ${step}: ${r.kv.writes} keys in ${r.api?.writeRequests} write requests ` +
          `(${r.api?.requests} requests), ${(r.wallMs / 1000).toFixed(1)} s, peak RSS ${r.peakRssMB} MB`,
      );
    }
  } finally {
    await project.close();
  }
  if (n > WRANGLER_MAX_FILES) return rows;
  // Same files as `wrangler kv bulk put` JSON (text values), first without the change, as above.
  await writeFile(changed, (await readFile(changed, "utf8")).replace(/changed\n$/, ""));
  const bulkState = join(base, "bulk-state");
  const bulkFile = join(base, "bulk.json");
  // --quick: one bulk put only (wrangler has no diffing, so each step writes the same N keys).
  for (const step of quick ? steps.slice(0, 1) : steps) {
    if (step === "one file changed") await writeFile(changed, `${await readFile(changed, "utf8")}changed\n`);
    // One file at a time: 20,000 reads at once run out of file descriptors (EMFILE).
    const entries: { key: string; value: string }[] = [];
    for (const p of paths) entries.push({ key: `bench/${p}`, value: await readFile(join(dir, p), "utf8") });
    await writeFile(bulkFile, JSON.stringify(entries));
    const r = await bulkPut(bulkFile, bulkState, n);
    rows.push({ files: n, tool: "wrangler kv bulk put", step, ...r });
    log(`  wrangler kv bulk put, ${n} files, ${step}: ${(r.wallMs / 1000).toFixed(1)} s`);
  }
  return rows;
}

/** The deploy rows as a Markdown table. */
export function deployTable(rows: readonly DeployRow[]): string {
  return table(
    ["files", "tool", "step", "wall time", "files/s", "peak RSS", "blobs written", "KV writes", "KV reads (keys)", "KV lists", "API requests (writing)"],
    rows.map((r) => [
      r.files.toLocaleString("en-US"),
      r.tool,
      r.step,
      `${(r.wallMs / 1000).toFixed(2)} s${r.toolMs !== null ? ` (tool: ${(r.toolMs / 1000).toFixed(2)} s)` : ""}`,
      r.filesPerSecond === undefined ? "—" : r.filesPerSecond.toLocaleString("en-US"),
      r.peakRssMB === undefined ? "—" : `${r.peakRssMB} MB`,
      r.blobsWritten ?? "—",
      r.kv.writes,
      r.tool === "wrangler kv bulk put" ? "0" : `${r.kv.reads} (${r.kv.readKeys})`,
      r.kv.lists,
      r.api ? `${r.api.requests} (${r.api.writeRequests})` : "—",
    ]),
  );
}
