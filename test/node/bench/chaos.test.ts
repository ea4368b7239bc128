// The soak's chaos entry (scripts/soak/chaos/entry.ts): bundled with esbuild,
// run in workerd in front of a Worker module with a real local KV binding, it
// passes requests through and fails KV calls only while the soak's switch is on.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorker, type RunningWorker } from "../../../scripts/runtime.ts";
import { bundleChaosEntry } from "../../../scripts/soak/topology.ts";

const KEY = "k".repeat(32);
// Stands in for the real Worker: reads its KV binding, and says which vars it sees.
const WORKER = `export default { async fetch(req, env) {
  try {
    return Response.json({ value: await env.SITE_KV.get("missing"), vars: Object.keys(env).filter((k) => k.startsWith("SOAK_")) });
  } catch (err) { return Response.json({ error: String(err) }, { status: 503 }); }
} }`;

let dir: string;
let w: RunningWorker;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-chaos-"));
  w = await startWorker({
    name: "chaos",
    env: "site",
    persistTo: dir,
    modules: [
      { path: "entry.js", contents: await bundleChaosEntry() },
      { path: "worker.js", contents: WORKER },
    ],
    vars: { SOAK_KV_BINDING: "SITE_KV", SOAK_KEY: KEY },
  });
}, 60_000);

afterAll(async () => {
  await w?.stop();
  await rm(dir, { recursive: true, force: true });
});

const flip = async (on: boolean, key = KEY) => (await fetch(`${w.url}/__soak/kv?fail=${on ? 1 : 0}`, { headers: { "x-soak-key": key } })).json();

describe("the soak's chaos entry", () => {
  it("passes requests to the Worker with KV working and without the soak's vars", async () => {
    const res = await fetch(`${w.url}/`);
    expect(await res.json()).toEqual({ value: null, vars: [] });
  });

  it("fails every KV call while the switch is on, and only with the key", async () => {
    // A wrong key does not reach the switch: the request goes to the Worker.
    expect(await flip(true, "wrong")).toEqual({ value: null, vars: [] });
    expect(await flip(true)).toEqual({ failing: true });
    const failing = await fetch(`${w.url}/`);
    expect(failing.status).toBe(503);
    expect(((await failing.json()) as { error: string }).error).toContain("KV get failed (injected by the soak)");
    expect(await flip(false)).toEqual({ failing: false });
    expect((await fetch(`${w.url}/`)).status).toBe(200);
  });
});
