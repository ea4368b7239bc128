// The pure parts of `npm run bench`: ratio statistics, Server-Timing accounting,
// target verdicts, the Markdown table and the SVG chart. The load itself is not
// run here (benchmarks are not tests).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { KvOps } from "../../../shared/kv/ops.ts";
import { costPerKiB, firstTable, gzipSize, paddingModule } from "../../../bench/lib/first.ts";
import {
  FLOOR_CPU_TARGET,
  casesTable,
  floorTable,
  impliedRatio,
  kvPerRequest,
  quantile,
  ratioChart,
  ratioSpread,
  spread,
  targetVerdict,
  type CaseResult,
} from "../../../bench/lib/stats.ts";

describe("ratio statistics", () => {
  it("quantile interpolates between closest ranks", () => {
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(quantile([10], 0.99)).toBe(10);
    expect(quantile([1, 2, 3, 4, 5], 0)).toBe(1);
    expect(quantile([1, 2, 3, 4, 5], 1)).toBe(5);
    expect(Number.isNaN(quantile([], 0.5))).toBe(true);
  });

  it("spreads the A/B ratios of alternating pairs as min / median / max", () => {
    const s = ratioSpread([
      { a: 90, b: 100 },
      { a: 80, b: 100 },
      { a: 120, b: 100 },
    ]);
    expect(s.min).toBeCloseTo(0.8);
    expect(s.median).toBeCloseTo(0.9);
    expect(s.max).toBeCloseTo(1.2);
  });

  it("skips pairs whose baseline is 0 or not finite instead of reporting Infinity", () => {
    const s = ratioSpread([
      { a: 5, b: 0 },
      { a: 2, b: 4 },
      { a: Number.NaN, b: 3 },
    ]);
    expect(s).toEqual({ min: 0.5, median: 0.5, max: 0.5 });
    expect(Number.isNaN(ratioSpread([{ a: 1, b: 0 }]).median)).toBe(true);
  });

  it("min <= median <= max for any finite sample", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 50 }), (xs) => {
        const s = spread(xs);
        return s.min <= s.median && s.median <= s.max;
      }),
    );
  });
});

describe("KV operations per request from Server-Timing", () => {
  it("averages what KvOps.toServerTiming wrote, next to other Server-Timing entries", () => {
    const a = new KvOps();
    a.reads = 1;
    a.cacheHits = 3;
    const b = new KvOps();
    b.cacheHits = 4;
    const headers = [`origin;dur=3, ${a.toServerTiming()}`, b.toServerTiming(), null, "cdn;dur=1"];
    const kv = kvPerRequest(headers);
    expect(kv.samples).toBe(4);
    expect(kv.missing).toBe(2);
    expect(kv.reads).toBe(0.5);
    expect(kv.hits).toBe(3.5);
    expect(kv.maxReads).toBe(1);
    expect(kv.writes).toBe(0);
  });
});

const row = (over: Partial<CaseResult> = {}): CaseResult => ({
  id: "site-html",
  worker: "site",
  label: "site 200 <small> & HTML",
  baseline: "hello-world",
  status: 200,
  rps: { min: 0.7, median: 0.85, max: 0.9 },
  p50: { min: 1, median: 1.1, max: 1.2 },
  p99: { min: 1, median: 1.3, max: 2 },
  cpu: { min: 1.5, median: 2, max: 3.2 },
  abs: { rpsA: 850, rpsB: 1000, p50A: 2, p50B: 1.8, p99A: 9, p99B: 7, cpuA: 600, cpuB: 300 },
  kv: { samples: 10, missing: 0, reads: 1, writes: 0, deletes: 0, lists: 0, hits: 4, stale: 0, maxReads: 1 },
  target: { rpsMin: 0.8, readsMax: 1 },
  pairs: 5,
  ...over,
});

describe("targets, table and chart", () => {
  it("a target is met on the median ratio and the mean reads", () => {
    expect(targetVerdict({ rpsMin: 0.8, readsMax: 1 }, { min: 0.7, median: 0.85, max: 0.9 }, 1)).toBe("met");
    expect(targetVerdict({ rpsMin: 0.9 }, { min: 0.7, median: 0.85, max: 0.9 }, 0)).toBe("missed (rps 0.85x)");
    expect(targetVerdict({ readsMax: 0 }, { min: 1, median: 1, max: 1 }, 0.02)).toBe("missed (reads 0.02)");
    expect(targetVerdict({}, { min: 1, median: 1, max: 1 }, 3)).toBe("—");
  });

  it("the Markdown table has one row per case with ratios, absolutes and the verdict", () => {
    const md = casesTable([row(), row({ id: "site-304", label: "site 304", status: 304, target: { rpsMin: 0.9, readsMax: 0 } })]);
    const lines = md.split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[2]).toContain("0.85 (0.70–0.90)");
    expect(lines[2]).toContain("850 / 1000");
    expect(lines[2]).toMatch(/\| met \|$/);
    expect(lines[3]).toContain("missed (rps 0.85x, reads 1.00)");
  });

  it("the SVG chart is well-formed, escapes labels, and draws a bar and a whisker per figure", () => {
    const svg = ratioChart([row(), row({ id: "gate", label: "gate", cpu: { min: Number.NaN, median: Number.NaN, max: Number.NaN } })], "bench <test>");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.trim().endsWith("</svg>")).toBe(true);
    expect(svg).toContain("bench &#60;test&#62;");
    expect(svg).toContain("site 200 &#60;small&#62; &#38; HTML vs hello-world");
    expect(svg).not.toContain("NaN");
    // row 1: rps + cpu bars; row 2: rps only (no CPU figure)
    expect(svg.match(/opacity="0.85"/g)).toHaveLength(3);
    // bars are proportional: 0.85 and 2 on a 0..3.5 scale of 420 px
    expect(svg).toContain('width="102.0"');
    expect(svg).toContain('width="240.0"');
  });
});

describe("floors and first requests (issue 26)", () => {
  it("the floor table lists only the cases with a floor, with the ratio to it beside the ratio to the baseline", () => {
    const floor = { label: "site-floor", cpu: { min: 1.05, median: 1.1, max: 1.3 }, rps: { min: 0.8, median: 0.9, max: 1 }, cpuF: 250 };
    const md = floorTable(
      [
        row({ floor }),
        row({ id: "site-304", label: "site 304", floor: { ...floor, cpu: { min: 1.1, median: 1.2, max: 1.4 } } }),
        row({ id: "site-range-hot", label: "range", floor: { ...floor, label: "site full 200", cpu: { min: 1.1, median: 1.18, max: 1.3 } } }),
        row({ id: "site-br" }),
      ],
      { "site-range-hot": 1.2 },
    );
    const lines = md.split("\n");
    expect(lines).toHaveLength(5);
    expect(lines[2]).toContain("1.10 (1.05–1.30)");
    expect(lines[2]).toContain("600 / 250");
    expect(lines[2]).toContain("2.00 (1.50–3.20) vs hello-world");
    expect(lines[2]).toMatch(/CPU ≤ 1.15x \| met \|$/);
    expect(lines[3]).toMatch(/missed \(1.20x\) \|$/);
    expect(lines[4]).toMatch(/CPU ≤ 1.2x \| met \|$/);
    expect(FLOOR_CPU_TARGET).toBe(1.15);
  });

  it("with the own-code figures: the gap's spread, and the ratio it implies on the floor's measured CPU, judged on its own", () => {
    const floor = { label: "gate-floor", cpu: { min: 1.2, median: 1.38, max: 1.5 }, rps: { min: 0.7, median: 0.75, max: 0.8 }, cpuF: 500 };
    const code = { a: { min: 140, median: 147.3, max: 160 }, floor: { min: 60, median: 65.3, max: 70 }, gap: { min: 70, median: 82, max: 95 } };
    const [, , line] = floorTable([row({ id: "gate-valid", label: "gate", floor: { ...floor, code } })]).split("\n");
    expect(line).toContain("147.3 / 65.3: +82.00 (70.00–95.00)");
    expect(line).toContain("| 1.16 |"); // (500 + 82) / 500
    expect(line).toMatch(/missed \(1\.38x\); implied: missed \(1\.16x\) \|$/);
    const [, , near] = floorTable([row({ floor: { ...floor, code: { ...code, gap: { min: -5, median: 20, max: 40 } } } })]).split("\n");
    expect(near).toMatch(/\| 1\.04 \|/);
    expect(near).toMatch(/implied: met \|$/);
    expect(impliedRatio(250, 0)).toBe(1);
    expect(impliedRatio(200, -20)).toBeCloseTo(0.9);
  });

  it("a KiB of bundle is priced by the padded hello-world's extra ready + first CPU per gzip KiB", () => {
    const s = (median: number) => ({ min: median, median, max: median });
    const hello = { name: "hello-world", gzipBytes: 1024, readyMs: s(100), firstMs: s(3), firstWallMs: s(20), secondMs: s(1) };
    const padded = { ...hello, name: "padded", gzipBytes: 101 * 1024, readyMs: s(140), firstMs: s(13) };
    expect(costPerKiB(hello, padded)).toBeCloseTo(0.5);
    const md = firstTable([hello, padded]);
    expect(md.split("\n")[3]).toContain("| 50.0 |");
  });

  it("the padding is module code of about the size asked, compressing like code rather than like a repeated string", () => {
    const pad = paddingModule(64 * 1024);
    expect(pad.length).toBeGreaterThanOrEqual(64 * 1024);
    expect(pad.length).toBeLessThan(66 * 1024);
    const ratio = pad.length / gzipSize([pad]);
    expect(ratio).toBeGreaterThan(2);
    expect(ratio).toBeLessThan(8);
  });
});
