import { originTarget } from "../../shared/http/target.ts";
import { originBases, type OriginFetch } from "../splitter/origin.ts";
import { guardRounds, otherColor, type Guard, type RolloutConfig } from "../splitter/model.ts";

/** The guard's verdict for one tick. */
export interface Verdict {
  tripped: boolean;
  /** Rounds that failed, and rounds run (a tick stops as soon as the outcome is certain). */
  failures: number;
  rounds: number;
  /** Which probe, on which colour, and what it saw last (empty when healthy). */
  reason: string;
}

type Probe = Guard["probes"][number];

/** One probe call: null when healthy, else what it saw. Never throws; never reads the body. */
async function probeOnce(url: string, probe: Probe, fetchFn: OriginFetch): Promise<string | null> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), probe.timeoutMs);
  try {
    const res = await fetchFn(new Request(url, { headers: { "x-edgekv-probe": "1" }, redirect: "manual", signal: ctl.signal }));
    await res.body?.cancel().catch(() => {});
    const ok = probe.status ? probe.status.includes(res.status) : res.status >= 200 && res.status < 300;
    return ok ? null : `HTTP ${res.status}`;
  } catch (err) {
    return ctl.signal.aborted ? `no answer within ${probe.timeoutMs} ms` : `unreachable (${String(err instanceof Error ? err.message : err).slice(0, 120)})`;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Probes the non-live colour's configured origin (never another host: the
 * probe path goes through shared/http/target.ts) in up to `rounds` rounds,
 * `intervalMs` apart, all within this tick, so the threshold is evaluated
 * without keeping counts in KV. A round fails when any probe fails. Stops as
 * soon as the outcome is certain: a healthy origin under a consecutive
 * threshold costs one round.
 * @example const v = await checkGuard(cfg, cfg.guard, fetch, sleep); if (v.tripped) ...
 */
export async function checkGuard(config: RolloutConfig, guard: Guard, fetchFn: OriginFetch, sleep: (ms: number) => Promise<void>): Promise<Verdict> {
  const color = otherColor(config.live);
  const base = originBases(config)[color];
  const urls = guard.probes.map((p) => {
    const q = p.path.indexOf("?");
    return q < 0 ? originTarget(base, p.path, "") : originTarget(base, p.path.slice(0, q), p.path.slice(q));
  });
  const need = guard.threshold.failures;
  const rounds = guardRounds(guard.threshold);
  let failures = 0;
  let reason = "";
  for (let i = 0; i < rounds; i++) {
    if (i > 0 && guard.intervalMs > 0) await sleep(guard.intervalMs);
    const seen = await Promise.all(guard.probes.map((p, j) => probeOnce(urls[j]!, p, fetchFn)));
    const bad = seen.findIndex((s) => s !== null);
    if (bad >= 0) {
      failures++;
      reason = `probe ${guard.probes[bad]!.path} on ${color} saw ${seen[bad]}; ${failures} of ${i + 1} checks failed`;
    }
    if (failures >= need) return { tripped: true, failures, rounds: i + 1, reason };
    if (failures + rounds - i - 1 < need) return { tripped: false, failures, rounds: i + 1, reason: "" };
  }
  return { tripped: false, failures, rounds, reason: "" };
}
