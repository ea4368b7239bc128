// Issue 26's own-code instrument (bench/lib/code.ts) and the gate floor that does what issues
// asked for (bench/lib/gate.ts): a loop copy runs the Worker's own `fetch` in the isolate with
// `fetch` answered there, and every side answers what the bench expects of it.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loopModule, measureCode } from "../../../bench/lib/code.ts";
import { GATE_FLOOR, GATE_FLOOR_ASKED } from "../../../bench/lib/gate.ts";
import { edgekvOk } from "../../../scripts/edgekv-in-process.ts";
import { bundleWorker, startWorker, type RunningWorker } from "../../../scripts/runtime.ts";

let work: string;
let token: string;
const workers: RunningWorker[] = [];
const stops: (() => Promise<void>)[] = [];
const logs: string[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "edgekv-code-"));
  token = (JSON.parse(await edgekvOk(["token", "issue", "--user", "bench", "--ttl", "3600", "--json"], join(work, "state"))) as { token: string }).token;
  const common = { env: "auth" as const, persistTo: join(work, "state"), drop: ["FAILED_AUTH_LIMITER"], vars: { ORIGIN_URL: "http://127.0.0.1:9/blue" } };
  workers.push(await startWorker({ ...common, name: "auth", modules: [{ path: "index.js", contents: await bundleWorker("auth", true) }] }));
  workers.push(await startWorker({ ...common, name: "gate-floor", modules: [{ path: "index.js", contents: GATE_FLOOR }] }));
  workers.push(
    await startWorker({ ...common, name: "gate-floor-asked", modules: [{ path: "index.js", contents: GATE_FLOOR_ASKED }], onLog: (l) => logs.push(l) }),
  );
}, 120_000);

afterAll(async () => {
  for (const s of [...stops, ...workers.map((w) => () => w.stop())]) await s().catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true });
});

describe("loopModule", () => {
  it("renames a floor's default export and a bundle's, keeping a bundle's other exports", () => {
    expect(loopModule("export default {\n fetch() {} };")).toMatch(/^const worker = \{/);
    const bundle = "var a=1,No={fetch(){}};export{No as default,Lr as depsFor};\n//# sourceMappingURL=index.js.map\n";
    const out = loopModule(bundle);
    expect(out).toContain("const worker = No;export{Lr as depsFor};");
    expect(out).toContain("//# sourceMappingURL=index.js.map");
    expect(out.match(/export default/g)).toHaveLength(1);
    expect(() => loopModule("export const x = 1;")).toThrow(/no default export/);
  });
});

describe("the gate and its floors in the loop", () => {
  it("each answers 200 for a valid token without leaving the isolate, and the gap is finite", async () => {
    const side = (w: RunningWorker) => ({ worker: w, req: { path: "/api/x", headers: { authorization: `Bearer ${token}` } }, expect: 200 });
    for (const floor of workers.slice(1)) {
      const r = await measureCode(side(workers[0]!), side(floor), stops, 50, 2);
      expect(Number.isFinite(r.gap.median), floor.name).toBe(true);
      expect(r.a.median).toBeGreaterThan(0);
    }
    // A wrong expectation fails loudly rather than timing the wrong answer.
    await expect(measureCode({ ...side(workers[0]!), expect: 401 }, side(workers[1]!), stops, 10, 1)).rejects.toThrow(/expected 10 × 401/);
  }, 120_000);

  it("the asked floor logs one JSON line per request, as the gate does, and does what the plain floor leaves out", async () => {
    // Its loop copy keeps its log handler: 2 × 5 requests (warm-up and one round).
    const side = (w: RunningWorker) => ({ worker: w, req: { path: "/api/x", headers: { authorization: `Bearer ${token}` } }, expect: 200 });
    await new Promise((r) => setTimeout(r, 500)); // the earlier test's lines
    const from = logs.length;
    await measureCode(side(workers[2]!), side(workers[1]!), stops, 5, 1);
    const lines = async () => logs.slice(from).filter((l) => l.includes('"msg":"edgekv-auth"'));
    for (let i = 0; i < 50 && (await lines()).length < 10; i++) await new Promise((r) => setTimeout(r, 100));
    const got = await lines();
    expect(got).toHaveLength(10);
    expect(JSON.parse(got[0]!)).toMatchObject({ decision: "allow", user: "bench", status: 200 });
    for (const part of ['append("Server-Timing"', 'cache: "no-store"', "x-forwarded-for", "x-edgekv-token-id"]) {
      expect(GATE_FLOOR_ASKED).toContain(part);
      expect(GATE_FLOOR).not.toContain(part);
    }
  }, 60_000);
});
