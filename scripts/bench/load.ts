// The load generator (autocannon's programmatic API) and the origin server the
// proxies forward to (a separate Node process, so it does not share the load
// generator's event loop).
import { spawn, type ChildProcess } from "node:child_process";
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

export interface OriginProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const ORIGIN_SCRIPT = `
const http = require("node:http");
const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    const body = JSON.stringify({ ok: true, path: req.url, user: req.headers["x-edgekv-user"] || null });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => process.stdout.write(String(server.address().port) + "\\n"));
process.on("SIGTERM", () => process.exit(0));
`;

/**
 * A minimal JSON origin in its own Node process on a free loopback port.
 * @example const o = await startOriginProcess(); ...; await o.stop();
 */
export function startOriginProcess(): Promise<OriginProcess> {
  const child: ChildProcess = spawn(process.execPath, ["-e", ORIGIN_SCRIPT], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.stdout?.once("data", (d: Buffer) => {
      const port = Number(d.toString().trim());
      resolve({
        url: `http://127.0.0.1:${port}`,
        pid: child.pid!,
        stop: () =>
          new Promise<void>((r) => {
            if (child.exitCode !== null) return r();
            child.once("exit", () => r());
            child.kill("SIGTERM");
          }),
      });
    });
  });
}
