#!/usr/bin/env node
// Builds each Worker exactly as `wrangler deploy` would (--dry-run; minify is
// on in wrangler.toml, so no flag here: the measure is what deploy ships) and
// reports its gzip size against the budget. Part of `npm test`, so a Worker
// that does not bundle fails the suite a user runs, as it fails CI.
// Over a budget, it names the Worker, the excess and the largest inputs (from
// esbuild's metafile), and, with --enforce, exits 1.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = fileURLToPath(new URL("..", import.meta.url));
/** gzip budgets in KiB (issue 11; kv-asset-handler is 12.6 KiB gzip, and all three stay below it). */
export const BUDGETS = { site: 8, splitter: 9, auth: 12 };
/**
 * Exit 1 when a budget is exceeded. Off until all three Workers fit (a failing
 * check would fail CI); `npm run build:check -- --enforce` tries it now.
 */
const ENFORCE = process.argv.includes("--enforce");
/** Inputs listed for a Worker over its budget. */
const TOP_INPUTS = 8;

export function measure(env) {
  const out = mkdtempSync(join(tmpdir(), `edgekv-dry-${env}-`));
  const meta = join(out, "meta.json");
  try {
    execFileSync(
      process.execPath,
      [join(root, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--env", env, "--outdir", out, "--metafile", meta],
      {
        cwd: root,
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const file = readdirSync(out).find((f) => f.endsWith(".js"));
    const code = readFileSync(join(out, file));
    // Minified bytes each source file contributes, largest first.
    const outputs = Object.values(JSON.parse(readFileSync(meta, "utf8")).outputs);
    const inputs = Object.entries(outputs.find((o) => o.entryPoint)?.inputs ?? {})
      .map(([path, v]) => ({ path: path.replace(/^.*node_modules\//, "node_modules/"), bytes: v.bytesInOutput }))
      .filter((i) => i.bytes > 0)
      .sort((a, b) => b.bytes - a.bytes);
    return { env, bytes: code.byteLength, gzipBytes: gzipSync(code, { level: 9 }).byteLength, budgetKiB: BUDGETS[env], inputs };
  } catch (err) {
    const stderr = err.stderr?.toString() ?? "";
    const stdout = err.stdout?.toString() ?? "";
    throw new Error(`wrangler deploy --dry-run --env ${env} failed:\n${stdout}${stderr}${stdout || stderr ? "" : err.message}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = [];
  let failed = false;
  for (const env of Object.keys(BUDGETS)) {
    try {
      rows.push(measure(env));
    } catch (err) {
      console.error(err.message);
      failed = true;
    }
  }
  const kib = (n) => (n / 1024).toFixed(2);
  console.log("\nwrangler deploy --dry-run (minify = true in wrangler.toml):");
  for (const r of rows) {
    const overBy = r.gzipBytes - r.budgetKiB * 1024;
    const over = overBy > 0 ? `  OVER the ${r.budgetKiB} KiB budget by ${kib(overBy)} KiB (${overBy} bytes)` : "";
    console.log(`  ${r.env.padEnd(9)} ${kib(r.bytes).padStart(7)} KiB minified, ${kib(r.gzipBytes).padStart(6)} KiB gzip (budget ${r.budgetKiB} KiB)${over}`);
  }
  const over = rows.filter((r) => r.gzipBytes > r.budgetKiB * 1024);
  for (const r of over) {
    console.log(`\n${r.env}: largest inputs (minified bytes in the bundle)`);
    for (const i of r.inputs.slice(0, TOP_INPUTS)) console.log(`  ${String(i.bytes).padStart(6)}  ${i.path}`);
  }
  mkdirSync(join(root, "bench", "results"), { recursive: true });
  writeFileSync(
    join(root, "bench", "results", "bundle-size.json"),
    `${JSON.stringify(
      rows.map(({ inputs: _inputs, ...r }) => r),
      null,
      2,
    )}\n`,
  );
  if (over.length > 0) {
    const names = over.map((r) => `${r.env} by ${r.gzipBytes - r.budgetKiB * 1024} bytes`).join(", ");
    if (ENFORCE) {
      console.error(`\nbuild:check failed: over the gzip budget: ${names}`);
      failed = true;
    } else console.log(`\nOVER budget (not failing yet; --enforce fails): ${names}`);
  }
  if (failed) process.exit(1);
}
