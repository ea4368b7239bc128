// Pure parts of the benchmark: statistics, Server-Timing accounting, the
// Markdown table and the SVG chart. No I/O here (covered by test/node/bench).
import { parseKvServerTiming } from "../../shared/kv/ops.ts";
import { table } from "../../scripts/table.ts";

export { table };

export interface Spread {
  min: number;
  median: number;
  max: number;
}

/**
 * The q-quantile (0..1) of values, linear between closest ranks.
 * @example quantile([1, 2, 3, 4], 0.5) // 2.5
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const pos = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** min / median / max of values (NaN for none). */
export function spread(values: readonly number[]): Spread {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { min: Number.NaN, median: Number.NaN, max: Number.NaN };
  return { min: Math.min(...finite), median: quantile(finite, 0.5), max: Math.max(...finite) };
}

/**
 * Ratios a/b of alternating runs (A B A B ...), one per pair, and their spread.
 * A pair with b = 0 gives no ratio (skipped), so a figure never turns into Infinity.
 * @example ratioSpread([{ a: 90, b: 100 }, { a: 80, b: 100 }]) // { min: 0.8, median: 0.85, max: 0.9 }
 */
export function ratioSpread(pairs: readonly { a: number; b: number }[]): Spread {
  return spread(pairs.filter((p) => p.b !== 0 && Number.isFinite(p.a) && Number.isFinite(p.b)).map((p) => p.a / p.b));
}

export interface KvPerRequest {
  /** Responses looked at. */
  samples: number;
  /** Responses without a parsable `kv` Server-Timing entry. */
  missing: number;
  reads: number;
  writes: number;
  deletes: number;
  lists: number;
  hits: number;
  stale: number;
  /** Largest reads seen on one response. */
  maxReads: number;
}

/**
 * Mean KV operations per request from the `Server-Timing` headers of a sample of responses.
 * @example kvPerRequest(['kv;desc="reads=1 writes=0 deletes=0 lists=0 hits=2 stale=0";dur=1']).reads // 1
 */
export function kvPerRequest(headers: readonly (string | null)[]): KvPerRequest {
  const out: KvPerRequest = { samples: headers.length, missing: 0, reads: 0, writes: 0, deletes: 0, lists: 0, hits: 0, stale: 0, maxReads: 0 };
  let parsed = 0;
  for (const h of headers) {
    const kv = parseKvServerTiming(h);
    if (!kv) {
      out.missing += 1;
      continue;
    }
    parsed += 1;
    out.reads += kv.reads ?? 0;
    out.writes += kv.writes ?? 0;
    out.deletes += kv.deletes ?? 0;
    out.lists += kv.lists ?? 0;
    out.hits += kv.hits ?? 0;
    out.stale += kv.stale ?? 0;
    out.maxReads = Math.max(out.maxReads, kv.reads ?? 0);
  }
  if (parsed > 0) {
    for (const k of ["reads", "writes", "deletes", "lists", "hits", "stale"] as const) out[k] = out[k] / parsed;
  }
  return out;
}

/** One row of the results: a case, its ratios against the baseline, and absolute medians. */
export interface CaseResult {
  id: string;
  worker: "site" | "splitter" | "auth";
  label: string;
  baseline: string;
  status: number;
  rps: Spread;
  p50: Spread;
  p99: Spread;
  cpu: Spread;
  /** Medians of the absolute figures: A (the Worker) and B (baseline). */
  abs: { rpsA: number; rpsB: number; p50A: number; p50B: number; p99A: number; p99B: number; cpuA: number; cpuB: number };
  kv: KvPerRequest;
  /**
   * Against the case's floor (issue 26), measured in the same alternation: ratios A / floor and the floor's CPU µs/req;
   * `code`: both sides' own request path in the isolate, without HTTP (bench/lib/code.ts).
   */
  floor?: { label: string; cpu: Spread; rps: Spread; cpuF: number; code?: CodeResult };
  /** Targets from the issue (reported, not asserted). */
  target: Target;
  pairs: number;
}

/** A Worker's own request path against its floor's, in the isolate (bench/lib/code.ts): CPU µs per request. */
export interface CodeResult {
  a: Spread;
  floor: Spread;
  /** A minus floor, per round: what A's code costs beyond the floor's, µs per request. */
  gap: Spread;
}

/**
 * The whole-request ratio an own-code gap implies: the floor's measured CPU per request plus the
 * gap, over the floor's (the A/B ratio if A differed from the floor by its code alone).
 * @example impliedRatio(300, 15) // 1.05
 */
export const impliedRatio = (floorCpuUs: number, gapUs: number): number => (floorCpuUs + gapUs) / floorCpuUs;

/** A target from the issue: minimum throughput ratio and/or maximum steady-state KV reads per request. */
export interface Target {
  rpsMin?: number;
  readsMax?: number;
}

/** "rps >= 0.8x, reads <= 1" */
export function targetText(t: Target): string {
  const parts: string[] = [];
  if (t.rpsMin !== undefined) parts.push(`rps ≥ ${t.rpsMin}x`);
  if (t.readsMax !== undefined) parts.push(t.readsMax === 0 ? "0 reads" : `reads ≤ ${t.readsMax}`);
  return parts.join(", ") || "—";
}

/**
 * Whether the median ratio and the mean reads meet the target: "met", "missed: ..." or "—" when there is none.
 * @example targetVerdict({ rpsMin: 0.8 }, { min: 0.7, median: 0.85, max: 0.9 }, 1) // "met"
 */
export function targetVerdict(t: Target, rps: Spread, reads: number): string {
  const missed: string[] = [];
  if (t.rpsMin !== undefined && !(rps.median >= t.rpsMin)) missed.push(`rps ${Number.isFinite(rps.median) ? rps.median.toFixed(2) : "n/a"}x`);
  if (t.readsMax !== undefined && !(reads <= t.readsMax + 1e-9)) missed.push(`reads ${reads.toFixed(2)}`);
  if (t.rpsMin === undefined && t.readsMax === undefined) return "—";
  return missed.length ? `missed (${missed.join(", ")})` : "met";
}

const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "n/a");
const spreadText = (s: Spread) => (Number.isFinite(s.median) ? `${f2(s.median)} (${f2(s.min)}–${f2(s.max)})` : "n/a");

/** The Markdown table of Worker cases: ratio median (min–max) and KV reads per request. */
export function casesTable(rows: readonly CaseResult[]): string {
  const head =
    "| case | vs | rps ratio | p50 ratio | p99 ratio | CPU/req ratio | rps (A / B) | CPU µs/req (A / B) | KV reads/req | target | verdict |\n" +
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |";
  const body = rows.map((r) =>
    [
      `${r.label} (${r.status})`,
      r.baseline,
      spreadText(r.rps),
      spreadText(r.p50),
      spreadText(r.p99),
      spreadText(r.cpu),
      `${Math.round(r.abs.rpsA)} / ${Math.round(r.abs.rpsB)}`,
      `${Math.round(r.abs.cpuA)} / ${Math.round(r.abs.cpuB)}`,
      r.kv.missing === r.kv.samples ? "n/a" : `${r.kv.reads.toFixed(2)} (max ${r.kv.maxReads}, hits ${r.kv.hits.toFixed(1)})`,
      targetText(r.target),
      targetVerdict(r.target, r.rps, r.kv.reads),
    ].join(" | "),
  );
  return [head, ...body.map((b) => `| ${b} |`)].join("\n");
}

/** Issue 26: a Worker is within this CPU ratio of its floor. */
export const FLOOR_CPU_TARGET = 1.15;

/**
 * The cases measured against a floor: CPU and throughput ratios to it, beside the ratio to the
 * baseline (hello-world or the bare proxy) of the same run. `targets` overrides FLOOR_CPU_TARGET per case id.
 */
export function floorTable(rows: readonly CaseResult[], targets: Readonly<Record<string, number>> = {}): string {
  const head =
    "| case | floor | CPU/req ratio to floor | rps ratio to floor | CPU µs/req (A / floor) | CPU/req ratio to baseline | own code µs/req, in the isolate (A / floor: gap) | implied ratio | target | verdict |\n" +
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |";
  const body = rows.flatMap((r) => {
    if (!r.floor) return [];
    const target = targets[r.id] ?? FLOOR_CPU_TARGET;
    const verdict = (x: number) => (Number.isFinite(x) ? (x <= target ? "met" : `missed (${f2(x)}x)`) : "n/a");
    const code = r.floor.code;
    const implied = code ? impliedRatio(r.floor.cpuF, code.gap.median) : Number.NaN;
    return [
      [
        `${r.label} (${r.status})`,
        r.floor.label,
        spreadText(r.floor.cpu),
        spreadText(r.floor.rps),
        `${Math.round(r.abs.cpuA)} / ${Math.round(r.floor.cpuF)}`,
        `${spreadText(r.cpu)} vs ${r.baseline}`,
        code ? `${code.a.median.toFixed(1)} / ${code.floor.median.toFixed(1)}: ${code.gap.median >= 0 ? "+" : ""}${spreadText(code.gap)}` : "—",
        code ? f2(implied) : "—",
        `CPU ≤ ${target}x`,
        `${verdict(r.floor.cpu.median)}${code ? `; implied: ${verdict(implied)}` : ""}`,
      ].join(" | "),
    ];
  });
  return [head, ...body.map((b) => `| ${b} |`)].join("\n");
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * An SVG chart of the ratios: one row per case, a bar to the median and a
 * whisker from min to max for throughput and CPU per request, with a line at 1.0x.
 * @example writeFileSync("latest.svg", ratioChart(rows, "edgekv bench"));
 */
export function ratioChart(rows: readonly CaseResult[], title: string): string {
  const rowH = 26;
  const left = 280;
  const plotW = 420;
  const top = 48;
  const maxX = Math.max(1.5, ...rows.flatMap((r) => [r.rps.max, r.cpu.max].filter((n) => Number.isFinite(n))));
  const scaleMax = Math.ceil(maxX * 2) / 2;
  const x = (v: number) => left + (Math.min(v, scaleMax) / scaleMax) * plotW;
  const height = top + rows.length * rowH + 56;
  const width = left + plotW + 30;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  parts.push(`<text x="10" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`);
  parts.push(
    `<rect x="${left}" y="28" width="10" height="8" fill="#2563eb"/><text x="${left + 14}" y="36">throughput (rps) vs baseline</text>` +
      `<rect x="${left + 200}" y="28" width="10" height="8" fill="#f59e0b"/><text x="${left + 214}" y="36">CPU per request vs baseline</text>`,
  );
  for (let t = 0; t <= scaleMax + 1e-9; t += 0.5) {
    const tx = x(t);
    parts.push(
      `<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${top + rows.length * rowH}" stroke="${t === 1 ? "#111" : "#ddd"}" stroke-width="${t === 1 ? 1.5 : 1}"/>`,
    );
    parts.push(`<text x="${tx}" y="${top + rows.length * rowH + 16}" text-anchor="middle" fill="#444">${t.toFixed(1)}x</text>`);
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="${left - 8}" y="${y + 16}" text-anchor="end">${esc(`${r.label} vs ${r.baseline}`)}</text>`);
    const bars: [Spread, string, number][] = [
      [r.rps, "#2563eb", 4],
      [r.cpu, "#f59e0b", 13],
    ];
    for (const [s, color, dy] of bars) {
      if (!Number.isFinite(s.median)) continue;
      parts.push(
        `<rect x="${left}" y="${y + dy}" width="${Math.max(0, x(s.median) - left).toFixed(1)}" height="8" fill="${color}" opacity="0.85"><title>${esc(`${r.label}: median ${f2(s.median)}x (min ${f2(s.min)}, max ${f2(s.max)})`)}</title></rect>`,
      );
      parts.push(`<line x1="${x(s.min).toFixed(1)}" y1="${y + dy + 4}" x2="${x(s.max).toFixed(1)}" y2="${y + dy + 4}" stroke="#111" stroke-width="1"/>`);
    }
  });
  parts.push(`<text x="10" y="${height - 22}" fill="#666">Bars: median of the A/B ratios over alternating pairs; whiskers: min–max.</text>`);
  parts.push(`<text x="10" y="${height - 8}" fill="#666">Throughput above 1.0x is better; CPU per request below 1.0x is better.</text>`);
  parts.push("</svg>");
  return parts.join("\n");
}
