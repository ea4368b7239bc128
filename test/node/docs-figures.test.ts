// Docs that cannot drift (issue 21): the figures the code produces come from one generated file,
// docs/generated/bundles.json (+ bundles.md), written by `npm run build:check`. The hand-written docs
// link to it and quote no current size; a figure with "before"/"was" on its line is history. The KV
// costs the docs quote are computed here with the CLI's own count.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { shardCountFor, writeCount } from "../../cli/site/publish.ts";
import { ROOT } from "../../scripts/wrangler-dev.ts";

interface Figures {
  kvAssetHandlerGzipKiB: number;
  workers: Record<string, { minifiedKiB: number; gzipKiB: number; bytes: number; gzipBytes: number; ceilingKiB: number; issue11TargetKiB: number }>;
}
interface DryRun {
  BUDGETS: Record<string, number>;
  TARGETS: Record<string, number>;
  KV_ASSET_HANDLER_KIB: number;
  figuresOf(rows: { env: string; bytes: number; gzipBytes: number; budgetKiB: number; targetKiB: number }[]): { json: string; md: string };
}

const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const DOCS = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];
/** A size stated as a measurement: "12.34 KiB gzip" or "12.34 KiB minified". */
const SIZE = /\b\d+\.\d\d KiB (?:gzip|minified)\b/g;

/** Every line of the hand-written docs that states a bundle size as current (no "before"/"was" on it). */
function currentSizeClaims(docs: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [path, text] of Object.entries(docs)) {
    text.split("\n").forEach((line, i) => {
      if (line.match(SIZE) && !/\b(?:before|was)\b/.test(line)) out.push(`${path}:${i + 1}: ${line.trim().slice(0, 120)}`);
    });
  }
  return out;
}

describe("docs that cannot drift", async () => {
  const figures = JSON.parse(read("docs/generated/bundles.json")) as Figures;
  // A URL, not a specifier: the .mjs script has no type declarations; DryRun types what is used.
  const dryRun = (await import(new URL("../../scripts/dry-run.mjs", import.meta.url).href)) as DryRun;

  it("the generated file holds the code's ceilings and targets, and bundles.md renders exactly bundles.json", () => {
    expect(Object.keys(figures.workers).sort()).toEqual(Object.keys(dryRun.BUDGETS).sort());
    for (const [w, f] of Object.entries(figures.workers)) {
      expect(f.ceilingKiB, w).toBe(dryRun.BUDGETS[w]);
      expect(f.issue11TargetKiB, w).toBe(dryRun.TARGETS[w]);
      expect(f.gzipBytes, `${w} is over its ceiling`).toBeLessThanOrEqual(f.ceilingKiB * 1024);
    }
    expect(figures.kvAssetHandlerGzipKiB).toBe(dryRun.KV_ASSET_HANDLER_KIB);
    const rows = Object.entries(figures.workers).map(([env, f]) => ({
      env,
      bytes: f.bytes,
      gzipBytes: f.gzipBytes,
      budgetKiB: f.ceilingKiB,
      targetKiB: f.issue11TargetKiB,
    }));
    const rendered = dryRun.figuresOf(rows);
    expect(rendered.json).toBe(read("docs/generated/bundles.json"));
    expect(rendered.md).toBe(read("docs/generated/bundles.md"));
  });

  it("no hand-written doc quotes a current bundle size; each Bundle size section links the generated file", () => {
    const docs = Object.fromEntries(DOCS.map((p) => [p, read(p)]));
    expect(currentSizeClaims(docs)).toEqual([]);
    for (const [path, text] of Object.entries(docs)) {
      const section = text.split(/^## /m).find((s) => s.startsWith("Bundle size"));
      if (section) expect(section, path).toMatch(/generated\/bundles\.md/);
    }
    expect(docs["README.md"]).toMatch(/docs\/generated\/bundles\.md/);
  });

  it("the KV costs the docs quote for a first deploy are what the CLI counts (cli/site/publish.ts)", () => {
    // One write per file, one per shard (shardCountFor: a power of two near SHARD_TARGET_ENTRIES files a shard), index, pointer.
    const first = (files: number) => writeCount(files, shardCountFor(files), 1, 1);
    const n = (x: number) => x.toLocaleString("en-US");
    const site = read("docs/site.md");
    const thousand = first(1000);
    expect(site).toContain(`| 1,000 files | 1,000 + ${thousand.shards} shards + index + pointer = **${n(thousand.total)}** |`);
    for (const files of [20_000, 100_000]) {
      const w = first(files);
      expect(site).toContain(`| ${n(files)} files | ${n(files)} + ${n(w.shards)} + 2 = **${n(w.total)}** |`);
    }
    expect(read("README.md").replace(/\s+/g, " ")).toContain(`a first deploy of a 1,000-file site writes ${n(thousand.total)} keys`);
  });

  it("catches a stale copy (the check above can fail)", () => {
    expect(currentSizeClaims({ "x.md": "**splitter 27.10 KiB minified, 11.04 KiB gzip** (CI ceiling 11.25 KiB)" })).toHaveLength(1);
    expect(currentSizeClaims({ "x.md": "it was 5.87 KiB gzip; 16.65 KiB before" })).toEqual([]);
  });
});
