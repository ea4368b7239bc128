// What the attack-class files share: real Workers under `wrangler dev`, real
// recording origins (one of them "evil": it must see nothing), the real CLI
// writing into the state the Workers read, and raw HTTP for bytes that fetch
// would normalise away.
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli } from "../node/helpers/cli.ts";
import { startOrigin, type Origin } from "../../scripts/origin.ts";
import { startWranglerDev, type DevServer } from "../node/helpers/wrangler-dev.ts";

export { startOrigin, type Origin };

export interface RawReply {
  status: number;
  head: string;
  body: string;
}

/**
 * Sends `request` byte for byte (latin1) to 127.0.0.1:`port` and reads the reply until the server closes.
 * @example await raw(gate.port, "GET //evil/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
 */
export function raw(port: number, request: string): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1", () => sock.end(Buffer.from(request, "latin1")));
    let out = "";
    sock.on("data", (d: Buffer) => (out += d.toString("latin1")));
    sock.on("end", () => {
      const split = out.indexOf("\r\n\r\n");
      const head = split < 0 ? out : out.slice(0, split);
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(out)?.[1] ?? 0), head, body: split < 0 ? "" : out.slice(split + 4) });
    });
    sock.on("error", reject);
    sock.setTimeout(15_000, () => sock.destroy(new Error("raw request timed out")));
  });
}

/** A GET (or other method) request line plus headers, closed after one reply. */
export function rawRequest(target: string, headers: Record<string, string> = {}, method = "GET"): string {
  const lines = [`${method} ${target} HTTP/1.1`, "Host: 127.0.0.1", ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), "Connection: close", "", ""];
  return lines.join("\r\n");
}

/** A folder of local state shared by the CLI and the Workers of one test file. */
export async function stateDir(name: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `edgekv-sec-${name}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Issues a token with the real CLI into `dir`; returns the secret.
 * @example const t = await issueToken(dir, ["--user", "alice", "--scope", "GET:/api/*"]);
 */
export async function issueToken(dir: string, args: string[]): Promise<string> {
  const r = await cli(["token", "issue", ...args, "--persist-to", dir]);
  if (r.code !== 0) throw new Error(`token issue failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** `wrangler dev --env auth` in front of `origin` (vars merged over ORIGIN_URL). */
export function startGate(dir: string, originUrl: string, vars: Record<string, string> = {}): Promise<DevServer> {
  return startWranglerDev({ env: "auth", persistTo: dir, vars: { ORIGIN_URL: originUrl, ...vars } });
}

/** Writes a rollout config (blue live, `percent` to green) with the real CLI, then starts `wrangler dev --env splitter`. */
export async function startSplitter(dir: string, blue: string, green: string, percent = 0, vars: Record<string, string> = {}): Promise<DevServer> {
  const init = await cli(["rollout", "init", "--blue", blue, "--green", green, "--live", "blue", "--force", "--yes", "--allow-decrease", "--persist-to", dir]);
  if (init.code !== 0) throw new Error(`rollout init failed: ${init.stderr}`);
  if (percent > 0) {
    const set = await cli(["rollout", "set", String(percent), "--persist-to", dir]);
    if (set.code !== 0) throw new Error(`rollout set failed: ${set.stderr}`);
  }
  return startWranglerDev({ env: "splitter", persistTo: dir, vars: { CONFIG_TTL_MS: "0", ...vars } });
}

/** `wrangler dev --env control --test-scheduled` on `dir` (vars merged; secrets as vars, as the other helpers pass them). */
export function startControl(dir: string, vars: Record<string, string> = {}): Promise<DevServer> {
  return startWranglerDev({ env: "control", persistTo: dir, vars, testScheduled: true });
}

/**
 * How common origin stacks read a request path, to check that what the gate
 * decided on is what any of them acts on: percent-decoding, `\` as `/`
 * (IIS, some Node routers), `;` parameters dropped (Tomcat, Jetty, Spring),
 * Unicode NFKC (some Python and Java stacks), then dot segments resolved.
 */
export function originReadings(received: string): string[] {
  const pathOnly = received.split("?")[0] ?? "";
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const resolveDots = (p: string) => {
    const out: string[] = [];
    const segs = p.split("/");
    for (const seg of segs) {
      if (seg === "..") out.pop();
      else if (seg !== "." && seg !== "") out.push(seg);
    }
    const last = segs[segs.length - 1];
    const dir = last === "" || last === "." || last === "..";
    return `/${out.join("/")}${dir && out.length ? "/" : ""}`;
  };
  const variants = new Set<string>();
  const plain = decode(pathOnly);
  for (const v of [plain, plain.replace(/\\/g, "/"), plain.normalize("NFKC"), decode(decode(pathOnly))]) {
    variants.add(resolveDots(v));
    variants.add(
      resolveDots(
        v
          .split("/")
          .map((s) => s.split(";")[0])
          .join("/"),
      ),
    );
  }
  return [...variants];
}

export { limiterWindowHeadroom } from "../helpers.ts";
