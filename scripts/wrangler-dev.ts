import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { releaseGroup, stopGroup, trackGroup } from "./supervise.ts";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Ports this process has handed out: never twice. */
const handedOut = new Set<number>();

/** The lowest port the kernel hands out by itself (`listen(0)`, outgoing connections); 32768 unless configured. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 2048 ? low : 32768;
  } catch {
    return 32768;
  }
}

/**
 * A free loopback TCP port for a server started later (wrangler dev binds it seconds after).
 * Picked below the kernel's ephemeral range: a port from `listen(0)` is one the kernel also gives
 * to the next outgoing connection or `listen(0)` of any process, so a parallel test could take it
 * before the bind ("Address already in use"). Below that range only another explicit pick can.
 */
export async function freePort(): Promise<number> {
  const high = ephemeralLow();
  const low = Math.max(1024, high - 12_000);
  for (let i = 0; i < 100; i++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (handedOut.has(port) || !(await portIsFree(port))) continue;
    handedOut.add(port);
    return port;
  }
  return anyFreePort();
}

/** A port from the kernel (`listen(0)`): the fallback when the range below the ephemeral one is full. */
function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** True when nothing listens on `port` at `host`. */
export function portIsFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

export interface DevServer {
  url: string;
  port: number;
  /** Everything wrangler printed so far. */
  output(): string;
  /** Resolves when the process exits (with its code). */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

export interface DevOptions {
  env: "site" | "splitter" | "auth" | "control";
  /** `--test-scheduled`: GET /__scheduled?cron=... runs the Worker's scheduled handler (the control Worker's cron). */
  testScheduled?: boolean;
  persistTo: string;
  vars?: Record<string, string>;
  /** KEY=VALUE files of secrets (`--env-file`, later ones win), so they are never on a command line (`ps`). */
  envFile?: string | string[];
  port?: number;
  inspectorPort?: number;
  timeoutMs?: number;
  /** Called with each chunk wrangler prints. */
  onOutput?: (chunk: string) => void;
}

/**
 * Starts `wrangler dev --env <env>` on loopback (free ports unless given),
 * sharing local state through `persistTo`, and resolves once it answers HTTP.
 * Several can run at once: each gets its own inspector port.
 * @example const dev = await startWranglerDev({ env: "site", persistTo: ".wrangler/state" }); await fetch(dev.url);
 */
export async function startWranglerDev(options: DevOptions): Promise<DevServer> {
  const port = options.port ?? (await freePort());
  const inspector = options.inspectorPort ?? (await freePort());
  const args = [
    join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js"),
    "dev",
    "--env",
    options.env,
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspector),
    "--persist-to",
    options.persistTo,
    "--show-interactive-dev-session=false",
  ];
  for (const [k, v] of Object.entries(options.vars ?? {})) args.push("--var", `${k}:${v}`);
  for (const file of [options.envFile ?? []].flat()) args.push("--env-file", file);
  if (options.testScheduled) args.push("--test-scheduled");
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "1" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // own process group, so stop() ends workerd too
  });
  // Tied to this process: its watchdog ends the group if this process dies without stopping it.
  if (child.pid !== undefined) trackGroup(child.pid);
  let out = "";
  const onData = (d: Buffer) => {
    const s = d.toString();
    out += s;
    options.onOutput?.(s);
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  void exited.then(() => {
    if (child.pid !== undefined) releaseGroup(child.pid);
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = () => stopGroup(child, exited);
  await waitUntilAnswering(url, child, stop, () => out, options);
  return { url, port, output: () => out, exited, stop };
}

/** What readiness polls request: any answer (a 404 too) means the Worker is up. Callers that relay wrangler's request log drop it. */
export const READY_PATH = "/__edgekv/ping";

/** Polls until the Worker answers HTTP; throws (after stopping it) if it exits or times out. */
async function waitUntilAnswering(url: string, child: ChildProcess, stop: () => Promise<void>, output: () => string, options: DevOptions): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 90_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev --env ${options.env} exited early:\n${output()}`);
    try {
      await fetch(`${url}${READY_PATH}`, { signal: AbortSignal.timeout(2_000) });
      return;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`wrangler dev --env ${options.env} did not answer on ${url}:\n${output()}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
