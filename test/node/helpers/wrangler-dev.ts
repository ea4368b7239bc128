import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./cli.ts";
import { freePort } from "./ports.ts";

export interface DevServer {
  url: string;
  port: number;
  /** Everything wrangler printed so far (for assertions on logs). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `wrangler dev --env <env>` on free loopback ports, sharing local state
 * with the CLI through `persistTo`, and resolves once it answers HTTP.
 * @example const dev = await startWranglerDev({ env: "site", persistTo: dir }); await fetch(dev.url);
 */
export async function startWranglerDev(options: {
  env: "site" | "splitter" | "auth";
  persistTo: string;
  vars?: Record<string, string>;
  timeoutMs?: number;
}): Promise<DevServer> {
  const port = await freePort();
  const inspector = await freePort();
  const args = [
    join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js"),
    "dev",
    "--env", options.env,
    "--ip", "127.0.0.1",
    "--port", String(port),
    "--inspector-port", String(inspector),
    "--persist-to", options.persistTo,
    "--show-interactive-dev-session=false",
    "--log-level", "info",
  ];
  for (const [k, v] of Object.entries(options.vars ?? {})) args.push("--var", `${k}:${v}`);
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "1" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const stop = async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      /* already gone */
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        /* gone */
      }
    }, 5_000);
    await exited;
    clearTimeout(timer);
  };
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${out}`);
    try {
      await fetch(`${url}/__edgekv/ping`, { signal: AbortSignal.timeout(2_000) });
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`wrangler dev did not answer on ${url}:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return { url, port, output: () => out, stop };
}
