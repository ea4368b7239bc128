#!/usr/bin/env node
// Builds each Worker exactly as `wrangler deploy` would (--dry-run, minified)
// and reports its size against the budget. Part of `npm test`, so a Worker
// that does not bundle fails the suite a user runs, as it fails CI.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
/** gzip budgets in KiB (kv-asset-handler is 12.6 KiB gzip). */
export const BUDGETS = { site: 6, splitter: 5, auth: 5 };

export function measure(env) {
  const out = mkdtempSync(join(tmpdir(), `edgekv-dry-${env}-`));
  try {
    execFileSync(process.execPath, [join(root, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--env", env, "--minify", "--outdir", out], {
      cwd: root,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const file = readdirSync(out).find((f) => f.endsWith(".js"));
    const code = readFileSync(join(out, file));
    return { env, bytes: code.byteLength, gzipBytes: gzipSync(code, { level: 9 }).byteLength, budgetKiB: BUDGETS[env] };
  } catch (err) {
    const stderr = err.stderr?.toString() ?? "";
    const stdout = err.stdout?.toString() ?? "";
    throw new Error(`wrangler deploy --dry-run --env ${env} failed:\n${stdout}${stderr}`);
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
  console.log("\nwrangler deploy --dry-run --minify:");
  for (const r of rows) {
    const kib = (n) => (n / 1024).toFixed(2);
    const over = r.gzipBytes > r.budgetKiB * 1024 ? `  OVER the ${r.budgetKiB} KiB budget` : "";
    console.log(`  ${r.env.padEnd(9)} ${kib(r.bytes).padStart(7)} KiB minified, ${kib(r.gzipBytes).padStart(6)} KiB gzip (budget ${r.budgetKiB} KiB)${over}`);
  }
  mkdirSync(join(root, "bench", "results"), { recursive: true });
  writeFileSync(join(root, "bench", "results", "bundle-size.json"), JSON.stringify(rows, null, 2) + "\n");
  if (failed) process.exit(1);
}
