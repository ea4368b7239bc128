/**
 * Per-request accounting of KV operations. Create one per request, pass it to
 * store calls as `{ ops }`, and emit it as a `Server-Timing` header.
 * @example
 * const ops = new KvOps();
 * const cfg = await store.get("current", { ops });
 * response.headers.append("Server-Timing", ops.toServerTiming());
 */
export class KvOps {
  reads = 0;
  writes = 0;
  deletes = 0;
  lists = 0;
  cacheHits = 0;
  staleHits = 0;
  /** Wall time spent waiting on KV, in ms (coarse in production, where timers advance only on I/O). */
  kvMs = 0;

  /**
   * A `Server-Timing` entry, e.g. `kv;desc="reads=1 writes=0 deletes=0 lists=0 hits=2 stale=0";dur=1.2`.
   */
  toServerTiming(name = "kv"): string {
    const desc = `reads=${this.reads} writes=${this.writes} deletes=${this.deletes} lists=${this.lists} hits=${this.cacheHits} stale=${this.staleHits}`;
    return `${name};desc="${desc}";dur=${Math.round(this.kvMs * 10) / 10}`;
  }
}

/**
 * Parses what `toServerTiming` wrote (used by tests and the benchmark).
 * @example parseKvServerTiming(res.headers.get("Server-Timing"))?.reads // 1
 */
export function parseKvServerTiming(header: string | null, name = "kv"): Record<string, number> | null {
  if (!header) return null;
  for (const part of header.split(",")) {
    const [metric, ...params] = part.trim().split(";");
    if (metric !== name) continue;
    const out: Record<string, number> = {};
    for (const p of params) {
      const eq = p.indexOf("=");
      const k = eq < 0 ? p : p.slice(0, eq);
      const v = eq < 0 ? "" : p.slice(eq + 1);
      if (k === "desc") {
        for (const kv of v.replace(/"/g, "").split(" ")) {
          const [name, n] = kv.split("=");
          if (name && n !== undefined) out[name] = Number(n);
        }
      } else if (k === "dur") out.dur = Number(v);
    }
    return out;
  }
  return null;
}
