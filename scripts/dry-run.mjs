#!/usr/bin/env node
// Builds each Worker exactly as `wrangler deploy` would (--dry-run; minify is
// on in wrangler.toml, so no flag here: the measure is what deploy ships) and
// reports its gzip size against the budget. Part of `npm test`, so a Worker
// that does not bundle fails the suite a user runs, as it fails CI.
// Over a budget it exits 1, naming the Worker and the excess; for a Worker
// over its issue-11 target it lists the largest inputs (esbuild's metafile).
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = fileURLToPath(new URL("..", import.meta.url));
/**
 * What CI enforces: each Worker's gzip ceiling in KiB, just above its measured
 * size. A change that grows a bundle past it fails `npm test`; raising one is a
 * deliberate edit here, with the reason in the commit. Lower it after every cut.
 */
export const BUDGETS = { site: 10.3, splitter: 11.25, auth: 13.25, control: 18.35 };
/**
 * Issue 21 asked for splitter <= 10.5 and auth <= 12.5 once the control code
 * left (16.65 -> 11.04 and 15.93 -> 13.02 KiB): the rest is the full config
 * schema (guard, webhooks: one schema for every reader) and the KV reader; the
 * ceilings above hold what was measured.
 * Issue 11's targets, reported on every run. They predate the security work
 * (docs/security.md: path policy, origin targets, failed-attempt limiter,
 * secret checks, and in the gate the signed assertion, JWKS and WebSocket
 * relay); README "Bundle size" has the gap and what closing it would take.
 */
export const TARGETS = { site: 8, splitter: 9, auth: 12, control: 15.5 };
/** kv-asset-handler's gzip size, the bar of the issue. */
export const KV_ASSET_HANDLER_KIB = 12.6;
/** `--no-enforce` reports without failing (to look at a branch that is over). */
const ENFORCE = !process.argv.includes("--no-enforce");
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
    const gzipBytes = gzipSync(code, { level: 9 }).byteLength;
    return { env, bytes: code.byteLength, gzipBytes, budgetKiB: BUDGETS[env], targetKiB: TARGETS[env], inputs };
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
    const over = overBy > 0 ? `  OVER the ${r.budgetKiB} KiB budget by ${overBy} bytes` : "";
    const target =
      r.gzipBytes > r.targetKiB * 1024 ? `target ${r.targetKiB} KiB missed by ${r.gzipBytes - r.targetKiB * 1024} B` : `target ${r.targetKiB} KiB met`;
    const kvah = r.gzipBytes < KV_ASSET_HANDLER_KIB * 1024 ? "below" : "ABOVE";
    console.log(
      `  ${r.env.padEnd(9)} ${kib(r.bytes).padStart(7)} KiB minified, ${kib(r.gzipBytes).padStart(6)} KiB gzip (budget ${r.budgetKiB} KiB; ${target}; ${kvah} kv-asset-handler's ${KV_ASSET_HANDLER_KIB})${over}`,
    );
  }
  const over = rows.filter((r) => r.gzipBytes > r.budgetKiB * 1024);
  for (const r of rows.filter((r) => r.gzipBytes > r.targetKiB * 1024)) {
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
      console.error(`\nbuild:check failed: over the gzip budget (scripts/dry-run.mjs BUDGETS): ${names}`);
      failed = true;
    } else console.log(`\nOVER budget (--no-enforce: not failing): ${names}`);
  }
  if (failed) process.exit(1);
}
