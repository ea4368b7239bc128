// `npm run bench -- --check` (CI: the 20,000-file deploy): which deploy rows break issue 23's bounds.
import { describe, expect, it } from "vitest";
import { DEPLOY_BOUNDS, deployViolations, type DeployRow } from "../../../bench/lib/deploy.ts";

const row = (over: Partial<DeployRow>): DeployRow => ({
  files: 20_000,
  tool: "edgekv site deploy",
  step: "one file changed",
  wallMs: 1,
  toolMs: 1,
  blobsWritten: 1,
  kv: { reads: 0, readKeys: 0, writes: DEPLOY_BOUNDS.oneFileChangedWrites, deletes: 0, lists: 0 },
  peakRssMB: 400,
  ...over,
});
const kv = (writes: number) => ({ reads: 0, readKeys: 0, writes, deletes: 0, lists: 0 });

describe("deployViolations", () => {
  it("passes rows within the bounds, and never judges wrangler's comparison rows", () => {
    expect(deployViolations([row({}), row({ step: "unchanged redeploy", kv: kv(0) }), row({ step: "first deploy", kv: kv(20_130) })])).toEqual([]);
    expect(deployViolations([row({ tool: "wrangler kv bulk put", kv: kv(20_000), peakRssMB: 900 })])).toEqual([]);
  });

  it("names each broken bound: memory, an unchanged redeploy that writes, a one-file change over 4 writes (local and --remote)", () => {
    const out = deployViolations([
      row({ step: "first deploy", kv: kv(100_514), peakRssMB: DEPLOY_BOUNDS.maxPeakRssMB }),
      row({ step: "unchanged redeploy", kv: kv(1) }),
      row({ kv: kv(82) }),
      row({ tool: "edgekv site deploy --remote", kv: kv(5) }),
    ]);
    expect(out).toHaveLength(4);
    expect(out[0]).toMatch(/first deploy: peak RSS 512 MB/);
    expect(out[1]).toMatch(/unchanged redeploy: 1 KV writes \(bound 0\)/);
    expect(out[2]).toMatch(/one file changed: 82 KV writes \(bound 4\)/);
    expect(out[3]).toMatch(/--remote, one file changed: 5 KV writes/);
  });
});
