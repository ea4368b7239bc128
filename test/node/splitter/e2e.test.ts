import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bucketOf } from "../../../workers/splitter/bucket.ts";
import { cli } from "../helpers/cli.ts";
import { freePort } from "../helpers/ports.ts";
import { startWranglerDev, type DevServer } from "../helpers/wrangler-dev.ts";
import { startOrigin, type Origin } from "../../../scripts/origin.ts";

let dir: string;
let dev: DevServer;
let blue: Origin;
let green: Origin;
let deadPort: number;
const rollout = async (...args: string[]) => {
  const r = await cli(["rollout", ...args, "--persist-to", dir, "--yes"]);
  if (r.code !== 0) throw new Error(`edgekv rollout ${args.join(" ")} failed: ${r.stderr}`);
  // KV allows one write per second to the config key.
  await new Promise((res) => setTimeout(res, 1_050));
  return r;
};
const override = async (color: "blue" | "green") =>
  JSON.parse((await cli(["rollout", "override", color, "--json"], { env: { OVERRIDE_SECRET: "ov-secret-for-the-e2e-test-32-bytes+" } })).stdout)
    .value as string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-splitter-e2e-"));
  [blue, green] = await Promise.all([startOrigin("blue"), startOrigin("green")]);
  deadPort = await freePort();
  await rollout("init", "--blue", blue.url, "--green", green.url, "--salt", "e2e", "--timeout", "1000");
  // CONFIG_TTL_MS=0: every request reads KV, so each CLI write is seen at once.
  dev = await startWranglerDev({
    env: "splitter",
    persistTo: dir,
    vars: { CONFIG_TTL_MS: "0", OVERRIDE_SECRET: "ov-secret-for-the-e2e-test-32-bytes+" },
  });
});
afterAll(async () => {
  await dev?.stop();
  await Promise.all([blue?.close(), green?.close()]);
  await rm(dir, { recursive: true, force: true });
});

describe("splitter end to end: wrangler dev --env splitter between two real origins", () => {
  it("a new visitor is routed by the id its cookie will carry; the origin sees it too", async () => {
    await rollout("set", "50");
    const res = await fetch(`${dev.url}/hello?x=1`);
    expect(res.status).toBe(200);
    const id = /edgekv_id=([^;]+)/.exec(res.headers.get("set-cookie") ?? "")![1]!;
    const bucket = bucketOf("e2e", id);
    expect(res.headers.get("x-edgekv-bucket")).toBe(String(bucket));
    const color = bucket < 5000 ? "green" : "blue";
    expect(res.headers.get("x-edgekv-color")).toBe(color);
    expect(res.headers.get("x-edgekv-reason")).toBe("bucket");
    expect(res.headers.get("server-timing")).toMatch(/kv;desc="reads=\d/);
    const body = (await res.json()) as { origin: string; url: string; headers: Record<string, string> };
    expect(body.origin).toBe(color);
    expect(body.url).toBe("/hello?x=1");
    expect(body.headers.cookie).toBe(`edgekv_id=${id}`);
    expect(body.headers.host).toBe(new URL(color === "blue" ? blue.url : green.url).host);
    expect(body.headers["x-forwarded-host"]).toBe(new URL(dev.url).host);
    expect(body.headers["x-forwarded-proto"]).toBe("http");

    // Sticky: the same cookie goes to the same colour every time.
    for (let i = 0; i < 5; i++) {
      const again = await fetch(`${dev.url}/`, { headers: { cookie: `edgekv_id=${id}` } });
      expect(again.headers.get("x-edgekv-color")).toBe(color);
      expect(again.headers.get("set-cookie")).toBeNull();
      await again.body?.cancel();
    }
  });

  it("a CLI write shifts traffic: set 100 sends everybody to green, rollback to blue", async () => {
    await rollout("set", "100");
    const r1 = await fetch(`${dev.url}/`);
    expect(r1.headers.get("x-edgekv-color")).toBe("green");
    expect(r1.headers.get("x-edgekv-config-version")).toBe("3");
    await r1.body?.cancel();
    await rollout("rollback");
    const r2 = await fetch(`${dev.url}/`);
    expect(r2.headers.get("x-edgekv-color")).toBe("blue");
    await r2.body?.cancel();
  });

  it("streams a large POST body to the origin byte for byte", async () => {
    const data = randomBytes(8 * 1024 * 1024);
    const res = await fetch(`${dev.url}/upload`, { method: "POST", body: data, headers: { "content-type": "application/octet-stream" } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { method: string; bytes: number; sha256: string; headers: Record<string, string> };
    expect(body).toMatchObject({ method: "POST", bytes: data.length, sha256: createHash("sha256").update(data).digest("hex") });
  });

  it("streams a chunked POST body (no content-length)", async () => {
    const chunks = ["alpha-", "beta-", "gamma"];
    const stream = new ReadableStream<Uint8Array>({
      async pull(c) {
        const next = chunks.shift();
        if (next === undefined) c.close();
        else c.enqueue(new TextEncoder().encode(next));
      },
    });
    const res = await fetch(`${dev.url}/chunked`, { method: "POST", body: stream, duplex: "half" } as RequestInit);
    const body = (await res.json()) as { bytes: number; sha256: string };
    expect(body).toMatchObject({ bytes: 16, sha256: createHash("sha256").update("alpha-beta-gamma").digest("hex") });
  });

  it("passes origin redirects through instead of following them", async () => {
    const res = await fetch(`${dev.url}/redirect`, { redirect: "manual" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/elsewhere");
    expect(res.headers.get("x-edgekv-color")).toBe("blue");
  });

  it("a slow origin is a 504 after timeoutMs with a clear body", async () => {
    const res = await fetch(`${dev.url}/slow`);
    expect(res.status).toBe(504);
    // The client learns which colour timed out, not its URL (docs/security.md, error leakage).
    expect(await res.json()).toEqual({ error: "origin_timeout", message: expect.stringMatching(/^the (blue|green) origin did not answer in time$/) });
  });

  it("signed override forces green; forged is ignored", async () => {
    const good = await fetch(`${dev.url}/`, { headers: { "x-edgekv-override": await override("green") } });
    expect(good.headers.get("x-edgekv-color")).toBe("green");
    expect(good.headers.get("x-edgekv-reason")).toBe("override");
    await good.body?.cancel();
    const forged = await fetch(`${dev.url}/`, { headers: { cookie: `edgekv_override=green.9999999999.forged` } });
    expect(forged.headers.get("x-edgekv-color")).toBe("blue");
    await forged.body?.cancel();
  });

  it("connection refused is a 502; with failover on, a GET is answered by the other colour", async () => {
    const { writeFile } = await import("node:fs/promises");
    const got = JSON.parse((await cli(["rollout", "config", "get", "--persist-to", dir])).stdout) as Record<string, unknown>;
    const file = join(dir, "dead-green.json");
    await writeFile(file, JSON.stringify({ ...got, origins: { blue: blue.url, green: `http://127.0.0.1:${deadPort}` } }));
    await rollout("config", "put", file);
    const forced = { "x-edgekv-override": await override("green") };
    const refused = await fetch(`${dev.url}/`, { headers: forced });
    expect(refused.status).toBe(502);
    expect(await refused.json()).toMatchObject({ error: "origin_unreachable" });

    await writeFile(file, JSON.stringify({ ...got, origins: { blue: blue.url, green: `http://127.0.0.1:${deadPort}` }, failover: true }));
    await rollout("config", "put", file);
    const saved = await fetch(`${dev.url}/x`, { headers: forced });
    expect(saved.status).toBe(200);
    expect(saved.headers.get("x-edgekv-color")).toBe("blue");
    expect(saved.headers.get("x-edgekv-reason")).toBe("failover");
    expect(((await saved.json()) as { origin: string }).origin).toBe("blue");
    // A POST is not replayed.
    const post = await fetch(`${dev.url}/x`, { method: "POST", body: "once", headers: forced });
    expect(post.status).toBe(502);
    await post.body?.cancel();
  });

  it("5xx from the chosen colour fails over for GET", async () => {
    await rollout("rollback", "--to", "4");
    const { writeFile } = await import("node:fs/promises");
    const got = JSON.parse((await cli(["rollout", "config", "get", "--persist-to", dir])).stdout) as Record<string, unknown>;
    const file = join(dir, "failover.json");
    await writeFile(file, JSON.stringify({ ...got, failover: true, rules: [{ match: { path: "/fail" }, to: "blue" }] }));
    await rollout("config", "put", file);
    const before = green.seen.length;
    const res = await fetch(`${dev.url}/fail`);
    // blue answers 503 on /fail, green does too: the second answer is returned, from green.
    expect(res.status).toBe(503);
    expect(res.headers.get("x-edgekv-color")).toBe("green");
    expect(res.headers.get("x-edgekv-reason")).toBe("failover");
    expect(green.seen.length).toBe(before + 1);
  });

  it("passes a WebSocket upgrade through", async () => {
    const ws = new WebSocket(`${dev.url.replace("http", "ws")}/socket`);
    const reply = await new Promise<string>((resolve, reject) => {
      ws.addEventListener("open", () => ws.send("ping"));
      ws.addEventListener("message", (e) => resolve(String(e.data)));
      ws.addEventListener("error", () => reject(new Error("websocket error")));
      setTimeout(() => reject(new Error("no websocket reply")), 10_000);
    });
    ws.close();
    expect(reply).toBe("ping from origin");
  });

  it("has no endpoint of its own: /__edgekv/status.json goes to an origin like any path (the status page is the control Worker's)", async () => {
    const res = await fetch(`${dev.url}/__edgekv/status.json`, { headers: { authorization: "Bearer some-secret-0123456789abcdef0123456789" } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { origin: string; url: string };
    expect(["blue", "green"]).toContain(body.origin);
    expect(body.url).toBe("/__edgekv/status.json");
  });
});
