// A real shared cache in front of a Worker: nginx's proxy_cache, keyed by the request URI only
// (the Host header is not part of the key, as on many CDN setups), honouring whatever caching
// headers the origin sends (no proxy_cache_valid, no proxy_ignore_headers), with
// `X-Cache-Status` saying what it did. Foreground, one process, everything under a temp folder.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../node/helpers/ports.ts";

export const NGINX = process.env.NGINX_BIN ?? "/usr/sbin/nginx";

/** True when the nginx binary is there and starts (`nginx -v`). */
export function nginxAvailable(): boolean {
  return existsSync(NGINX) && spawnSync(NGINX, ["-v"], { stdio: "ignore" }).status === 0;
}

export interface NginxCache {
  url: string;
  port: number;
  /** What nginx printed so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Starts nginx as a caching reverse proxy for `upstream` (http://127.0.0.1:PORT) on a free port.
 * It stops in `stop()`, when this process exits, and on SIGINT/SIGTERM/SIGHUP.
 * @example const cache = await startNginxCache(dev.url); await fetch(cache.url + "/"); await cache.stop();
 */
export async function startNginxCache(upstream: string): Promise<NginxCache> {
  const dir = await mkdtemp(join(tmpdir(), "edgekv-nginx-"));
  const port = await freePort();
  const conf = join(dir, "nginx.conf");
  await writeFile(
    conf,
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=site:1m max_size=64m inactive=10m use_temp_path=off;
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass ${upstream};
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_cache site;
      proxy_cache_key $request_uri;
      add_header X-Cache-Status $upstream_cache_status always;
    }
  }
}
`,
  );
  const child: ChildProcess = spawn(NGINX, ["-e", join(dir, "error.log"), "-p", dir, "-c", conf], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));

  const killNow = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  const onSignal = (sig: NodeJS.Signals) => {
    killNow();
    remove();
    process.kill(process.pid, sig);
  };
  const remove = () => {
    process.off("exit", killNow);
    for (const s of SIGNALS) process.off(s, onSignal);
  };
  process.once("exit", killNow);
  for (const s of SIGNALS) process.once(s, onSignal);

  const stop = async () => {
    remove();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(killNow, 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`nginx exited early (${child.exitCode}):\n${out}`);
    }
    try {
      await fetch(`${url}/__edgekv/ping`, { signal: AbortSignal.timeout(2_000) });
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`nginx did not answer on ${url}:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { url, port, log: () => out, stop };
}
