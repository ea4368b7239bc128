// `npm run bench:glob`: the cost of one glob match on hostile paths (issue 20, class 4).
// The gate matches PUBLIC_PATHS before any token check, so an unauthenticated
// client chooses the path; scopes and splitter rules use the same matcher.
// Prints a Markdown table on stdout: the linear matcher (shared/http/glob.ts)
// on an 8 KiB path, and the regex it replaced on paths it can still finish.
// V8 runs both, as in workerd; no Worker is needed to time a pure function.
import { performance } from "node:perf_hooks";
import { compileGlob } from "../shared/http/glob.ts";

/** The replaced matcher: each `*` a backtracking `.*`. */
function regexGlob(pattern: string): (path: string) => boolean {
  const source = pattern
    .split(/\*+/)
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  const re = new RegExp(`^${source}$`, "s");
  return (path) => re.test(path);
}

/** Median milliseconds of one call of `fn`, over `runs` calls after a warm-up. */
function medianMs(fn: () => unknown, runs: number): number {
  for (let i = 0; i < 3; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

const TEN_STARS = `/${"*/".repeat(9)}*.png`;
const KiB8 = 8192;
// Paths that pass the head and tail checks and fail only in the middle, so every literal is searched.
const noSlash = `/${"a".repeat(KiB8 - 5)}.png`;
const nearMiss = `/${"*aaaaaaaaaaaaaaab".repeat(10)}*.png`;
const cases: { glob: string; path: string; regex: boolean }[] = [
  { glob: "/*/*/*.png", path: `/${"a/".repeat(1024)}`, regex: true },
  { glob: "/*/*/*.png", path: `/${"a/".repeat(KiB8 / 2)}`, regex: false },
  { glob: TEN_STARS, path: `/${"a/".repeat(KiB8 / 2)}`, regex: false },
  { glob: TEN_STARS, path: noSlash, regex: true },
  { glob: nearMiss, path: noSlash, regex: false },
];

const rows = ["| glob | path bytes | linear matcher (median ms) | regex `.*` (median ms) |", "| --- | --- | --- | --- |"];
for (const c of cases) {
  const linear = compileGlob(c.glob);
  const old = regexGlob(c.glob);
  const l = medianMs(() => linear(c.path), 201);
  const r = c.regex ? medianMs(() => old(c.path), 3).toFixed(3) : "not run (O(n^k) backtracking)";
  rows.push(`| \`${c.glob}\` | ${c.path.length} | ${l.toFixed(4)} | ${r} |`);
}
process.stdout.write(`${rows.join("\n")}\n`);
