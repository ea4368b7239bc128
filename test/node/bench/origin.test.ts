// The one test origin (scripts/origin.ts) that npm start, the soak, the bench
// and the tests share: its replies, recording, delay, down/up, and the
// process form the bench uses.
import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { startOrigin, startOriginProcess, type Origin } from "../../../scripts/origin.ts";

const open: { close?: () => Promise<void>; stop?: () => Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await (o.close ?? o.stop)?.();
});
const started = async (o: Promise<Origin>) => {
  const origin = await o;
  open.push(origin);
  return origin;
};

describe("scripts/origin.ts", () => {
  it("echo: records method, url, headers, body bytes and sha256, and answers them as JSON", async () => {
    const app = await started(startOrigin("app"));
    const res = await fetch(`${app.url}/x?y=1`, { method: "POST", body: "hello", headers: { "x-test": "1" } });
    expect(res.headers.get("x-origin")).toBe("app");
    const sha256 = createHash("sha256").update("hello").digest("hex");
    expect(await res.json()).toMatchObject({ origin: "app", method: "POST", url: "/x?y=1", bytes: 5, sha256 });
    expect(app.seen).toHaveLength(1);
    expect(app.seen[0]).toMatchObject({ method: "POST", url: "/x?y=1", bytes: 5, sha256 });
    expect(app.seen[0]!.headers["x-test"]).toBe("1");
  });

  it("echo: /fail is a 503 and /redirect a 302; /slow never answers", async () => {
    const app = await started(startOrigin("app"));
    expect((await fetch(`${app.url}/fail`)).status).toBe(503);
    const r = await fetch(`${app.url}/redirect`, { redirect: "manual" });
    expect([r.status, r.headers.get("location")]).toEqual([302, "/elsewhere"]);
    await expect(fetch(`${app.url}/slow`, { signal: AbortSignal.timeout(300) })).rejects.toThrow();
  });

  it("demo: the colour as HTML for browsers, JSON for /api/*", async () => {
    const blue = await started(startOrigin("blue", { reply: "demo" }));
    const page = await fetch(`${blue.url}/`);
    expect(page.headers.get("x-demo-origin")).toBe("blue");
    expect(await page.text()).toContain("BLUE origin");
    const api = await fetch(`${blue.url}/api/x`, { headers: { "x-edgekv-user": "alice" } });
    expect(await api.json()).toMatchObject({ color: "blue", path: "/api/x", user: "alice", bodyBytes: 0 });
    // No special paths outside "echo".
    expect((await fetch(`${blue.url}/fail`)).status).toBe(200);
  });

  it("delayMs slows every answer, and can change while running", async () => {
    const o = await started(startOrigin("o", { reply: "brief" }));
    o.delayMs = 300;
    let t = Date.now();
    await (await fetch(o.url)).arrayBuffer();
    expect(Date.now() - t).toBeGreaterThanOrEqual(290);
    o.delayMs = 0;
    t = Date.now();
    await (await fetch(o.url)).arrayBuffer();
    expect(Date.now() - t).toBeLessThan(290);
  });

  it("down() refuses connections, up() accepts them again on the same port", async () => {
    const o = await started(startOrigin("o", { reply: "brief" }));
    const url = o.url;
    await o.down();
    await expect(fetch(url)).rejects.toThrow();
    await o.up();
    expect(o.url).toBe(url);
    expect((await fetch(url)).status).toBe(200);
  });

  it("record: false keeps nothing", async () => {
    const o = await started(startOrigin("o", { reply: "brief", record: false }));
    await (await fetch(o.url)).arrayBuffer();
    expect(o.seen).toEqual([]);
  });

  it("startOriginProcess: the same origin in its own process", async () => {
    const p = await startOriginProcess("bench", { reply: "brief", record: false });
    open.push(p);
    expect(p.pid).not.toBe(process.pid);
    const res = await fetch(`${p.url}/blue/api/x`, { headers: { "x-edgekv-user": "bench" } });
    expect(await res.json()).toEqual({ ok: true, path: "/blue/api/x", user: "bench" });
  });
});
