// Attack class: one cheap request that costs the Worker seconds of CPU (ReDoS).
// PUBLIC_PATHS are matched before any token check, so an anonymous client picks
// the path; scopes and splitter rules use the same matcher. A regex `.*` per `*`
// backtracks in O(n^k): `/*/*/*.png` against 2 KB of slashes took close to a second.
// Defence: shared/http/glob.ts matches without backtracking (linear in the path
// for every glob); the per-call figures are in `npm run bench:glob`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_PATH_BYTES } from "../../shared/http/path.ts";
import type { DevServer } from "../node/helpers/wrangler-dev.ts";
import { issueToken, raw, rawRequest, startGate, startOrigin, stateDir, type Origin } from "./helpers.ts";

const TEN_STARS = `/${"*/".repeat(9)}*.png`;
// Just under the gate's path cap (MAX_PATH_BYTES, 2 KiB; longer is a 414 before any matching).
const N = Math.floor((MAX_PATH_BYTES - 16) / 2);
const HOSTILE_PATHS = [`/${"a/".repeat(N)}`, `/${"a/".repeat(N)}x.pn`, `/${"ab".repeat(N)}`, `/${"a/b".repeat(N / 2)}.jpg`, `/${"a/".repeat(N)}.pn`];

let app: Origin;
let gate: DevServer;
let state: Awaited<ReturnType<typeof stateDir>>;
let scoped: string;

beforeAll(async () => {
  app = await startOrigin("app");
  state = await stateDir("glob");
  scoped = await issueToken(state.dir, ["--user", "reader", "--scope", `GET:${"/*".repeat(8)}.json`]);
  gate = await startGate(state.dir, app.url, { PUBLIC_PATHS: `/*/*/*.png,${TEN_STARS}` });
}, 180_000);

afterAll(async () => {
  await gate?.stop();
  await app?.close();
  await state?.remove();
});

describe("hostile paths against many-star globs are answered at once, and correctly", () => {
  it("an anonymous request on a long path that no public glob matches is a 401, not a stalled Worker", async () => {
    for (const path of HOSTILE_PATHS) {
      const before = app.seen.length;
      const r = await raw(gate.port, rawRequest(path));
      expect(r.status, path.slice(0, 40)).toBe(401);
      expect(app.seen.length).toBe(before);
    }
  });

  it("the globs still match what they name", async () => {
    const r = await raw(gate.port, rawRequest(`/a/b/${"c/".repeat(N - 8)}logo.png`));
    expect(r.status).toBe(200);
    const ten = await raw(gate.port, rawRequest(`/${"d/".repeat(12)}x.png`));
    expect(ten.status).toBe(200);
  });

  it("a token scope of many stars refuses a long out-of-scope path and allows an in-scope one", async () => {
    const auth = { Authorization: `Bearer ${scoped}` };
    const out = await raw(gate.port, rawRequest(`/${"a/".repeat(N)}x.jso`, auth));
    expect(out.status).toBe(403);
    const ok = await raw(gate.port, rawRequest(`/${"a/".repeat(N - 8)}x.json`, auth));
    expect(ok.status).toBe(200);
  });
});
