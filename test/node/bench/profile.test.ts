// `npm run bench -- --profile`: a CPU profile of a Worker recorded in workerd
// through its inspector (bench/lib/profile.ts), and how samples are charged.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordProfile, summarize, type CpuProfile } from "../../../bench/lib/profile.ts";
import { startWorker, type RunningWorker } from "../../../scripts/runtime.ts";

// A Worker with one named function that burns CPU, so it must show up as the Worker's own.
const WORKER = `function spinForProfile(n) { let x = 0; for (let i = 0; i < n; i++) x = (x * 31 + i) % 1000003; return x; }
export default { fetch() { return new Response(String(spinForProfile(200000))); } };`;

let w: RunningWorker;
beforeAll(async () => {
  w = await startWorker({ name: "profiled", modules: [{ path: "profiled.js", contents: WORKER }], inspectorPort: 0 });
});
afterAll(async () => {
  await w?.stop();
});

describe("recordProfile in workerd", () => {
  it("records the Worker's own functions and charges them to the Worker", async () => {
    const { profile, result } = await recordProfile(w.mf, "profiled", async () => {
      for (let i = 0; i < 40; i++) await (await fetch(`${w.url}/`)).text();
      return 40;
    });
    expect(result).toBe(40);
    const s = summarize(profile, "profiled.js");
    const spin = s.functions.find((f) => f.name === "spinForProfile");
    expect(spin?.bucket).toBe("worker");
    expect(spin?.where).toMatch(/^profiled\.js:1:/);
    // The loop dominates the Worker's own time.
    expect(spin!.selfMs).toBeGreaterThan(s.workerMs / 2);
    expect(s.totalMs).toBeCloseTo(s.workerMs + s.runtimeMs + s.idleMs, 6);
  });
});

describe("summarize", () => {
  const frame = (functionName: string, url = "") => ({ functionName, url, lineNumber: 0, columnNumber: 0, scriptId: "1" });
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame("(root)") },
      { id: 2, callFrame: frame("handle", "index.js") },
      { id: 3, callFrame: frame("Headers") },
      { id: 4, callFrame: frame("(idle)") },
    ],
    startTime: 0,
    endTime: 1000,
    // Each sample is charged the delta that follows it.
    samples: [2, 2, 3, 4, 2],
    timeDeltas: [0, 100, 100, 200, 300, 0],
  };

  it("charges each sample the time until the next, by bucket", () => {
    const s = summarize(profile, "index.js");
    expect(s.workerMs).toBeCloseTo(0.2, 6); // samples 0 and 1 (100 µs each), the last has no successor
    expect(s.runtimeMs).toBeCloseTo(0.2, 6); // Headers
    expect(s.idleMs).toBeCloseTo(0.3, 6);
    expect(s.functions.map((f) => [f.name, f.bucket])).toEqual([
      ["handle", "worker"],
      ["Headers", "runtime"],
    ]);
  });

  it("counts frames of another script as runtime, not the Worker's", () => {
    const s = summarize(profile, "other.js");
    expect(s.workerMs).toBe(0);
    expect(s.runtimeMs).toBeCloseTo(0.4, 6);
  });
});
