// The load generator (autocannon's programmatic API). The origin the proxies
// forward to is scripts/origin.ts in its own process (startOriginProcess).
import { createRequire } from "node:module";
import { quantile } from "./stats.ts";

interface AutocannonResult {
  requests: { total: number };
  duration: number;
  errors: number;
  timeouts: number;
}
interface AutocannonInstance {
  on(event: "response", fn: (client: unknown, status: number, bytes: number, ms: number) => void): void;
}
type Autocannon = (
  opts: {
    url: string;
    method?: string;
    headers?: Record<string, string>;
    duration?: number;
    amount?: number;
    connections: number;
    pipelining?: number;
    sampleInt?: number;
    setupClient?: (client: unknown) => void;
  },
  done: (err: Error | null, result: AutocannonResult) => void,
) => AutocannonInstance;

const requireHere = createRequire(import.meta.url);
const autocannon = requireHere("autocannon") as Autocannon;
// autocannon's parser does not know a request was HEAD and waits for the body that
// Content-Length announces; tell its parser to skip the body (http-parser-js's skipBody).
const { HTTPParser } = createRequire(requireHere.resolve("autocannon"))("http-parser-js") as { HTTPParser: { kOnHeadersComplete: number } };
function skipBodies(client: unknown): void {
  // setupClient runs before the client installs its parser callbacks: patch on the next tick.
  process.nextTick(() => {
    const parser = (client as { parser: Record<number, (info: unknown) => unknown> }).parser;
    const onHeaders = parser[HTTPParser.kOnHeadersComplete]!;
    parser[HTTPParser.kOnHeadersComplete] = (info) => {
      onHeaders(info);
      return true;
    };
  });
}

export interface LoadRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  /** Latency quantiles in ms, from every response (autocannon's own histogram rounds to whole ms). */
  p50: number;
  p99: number;
  statuses: Record<string, number>;
  errors: number;
}

/**
 * Loads one URL for `seconds` with `connections` keep-alive connections.
 * @example const r = await load({ url: "http://127.0.0.1:8787/" }, 3, 16);
 */
export function load(req: LoadRequest, seconds: number, connections: number): Promise<LoadResult> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const inst = autocannon(
      {
        url: req.url,
        method: req.method ?? "GET",
        headers: req.headers ?? {},
        duration: seconds,
        connections,
        pipelining: 1,
        sampleInt: 100, // autocannon checks its stop flag once per sample: stop within 100 ms of `seconds`
        ...(req.method === "HEAD" ? { setupClient: skipBodies } : {}),
      },
      (err, result) => {
        if (err) return reject(err);
        const elapsed = (performance.now() - started) / 1000;
        const n = latencies.length;
        resolve({
          requests: n,
          seconds: elapsed,
          rps: n / Math.max(result.duration || elapsed, 1e-3),
          p50: quantile(latencies, 0.5),
          p99: quantile(latencies, 0.99),
          statuses,
          errors: result.errors + result.timeouts,
        });
      },
    );
    inst.on("response", (_client, status, _bytes, ms) => {
      latencies.push(ms);
      statuses[status] = (statuses[status] ?? 0) + 1;
    });
  });
}
