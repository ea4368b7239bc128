/**
 * Issue 25 in the CLI: `rollout status` shows each colour's requests, error rate and p95 and the
 * verdict now, from the same look the control Worker takes, against the Analytics Engine SQL
 * API stand-in (scripts/ae-api.ts) reached through CLOUDFLARE_API_BASE_URL; the token never
 * appears in the output.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAeApi, type AeApi } from "../../../scripts/ae-api.ts";
import { runCli } from "../helpers/cli.ts";

let api: AeApi;
let state: string;
const at = () => ["--persist-to", state];

beforeAll(async () => {
  api = await startAeApi();
  state = await mkdtemp(join(tmpdir(), "edgekv-metrics-cli-"));
  expect((await runCli(["rollout", "init", "--blue", "https://blue.test", "--green", "https://green.test", "--percent", "20", ...at()])).code).toBe(0);
  const status = JSON.parse((await runCli(["rollout", "status", "--json", ...at()])).stdout) as { config: Record<string, unknown> };
  const { version: _v, ...config } = status.config;
  const file = join(state, "guarded.json");
  await writeFile(file, JSON.stringify({ ...config, guard: { probes: [{ path: "/health" }], action: "pause", metrics: { minRequests: 50 } } }));
  expect((await runCli(["rollout", "config", "put", file, "--yes", ...at()])).code).toBe(0);
  const version = String(JSON.parse((await runCli(["rollout", "status", "--json", ...at()])).stdout).config.version);
  for (let i = 0; i < 400; i++) api.standin.write("edgekv_rollout", { indexes: [version], blobs: ["blue", "2xx", "bucket", "AMS"], doubles: [40, 1] });
  for (let i = 0; i < 100; i++)
    api.standin.write("edgekv_rollout", { indexes: [version], blobs: ["green", i < 30 ? "5xx" : "2xx", "bucket", "AMS"], doubles: [60, 1] });
}, 60_000);

afterAll(async () => {
  await api?.close();
  await rm(state, { recursive: true, force: true });
});

describe("rollout status with guard.metrics", () => {
  const vars = () => ({ CLOUDFLARE_ACCOUNT_ID: api.standin.accountId, ANALYTICS_API_TOKEN: api.standin.token, CLOUDFLARE_API_BASE_URL: api.url });

  it("shows each colour's window and the verdict, human and --json, never the token", async () => {
    const human = await runCli(["rollout", "status", ...at()], { env: vars() });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain("traffic:  last 10 min: blue 400 requests, 0.00% errors, p95 40 ms; green 100 requests, 30.00% errors, p95 60 ms");
    expect(human.stdout).toContain("verdict now: trip: green 5xx 30.0% vs blue 0.0% over 100 / 400 requests; p95 60 vs 40 ms");
    const json = JSON.parse((await runCli(["rollout", "status", "--json", ...at()], { env: vars() })).stdout) as {
      metrics: { green: unknown; verdict: { action: string } };
    };
    expect(json.metrics).toMatchObject({ green: { requests: 100, errors: 30, p95: 60 }, verdict: { action: "trip" } });
    for (const out of [human.stdout, human.stderr]) expect(out).not.toContain(api.standin.token);
  });

  it("without the account id and token it says how to turn it on", async () => {
    const r = await runCli(["rollout", "status", ...at()], { env: { CLOUDFLARE_ACCOUNT_ID: "", ANALYTICS_API_TOKEN: "" } });
    expect(r.stdout).toContain("traffic:  not shown (set CLOUDFLARE_ACCOUNT_ID and ANALYTICS_API_TOKEN");
  });

  it("a wrong token: the verdict holds and says why, without the token", async () => {
    const r = await runCli(["rollout", "status", ...at()], { env: { ...vars(), ANALYTICS_API_TOKEN: "not-the-token-0123456789abcdef" } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("verdict now: hold: inconclusive: metrics unavailable (the analytics API answered HTTP 401)");
    expect(r.stdout).not.toContain("not-the-token-0123456789abcdef");
  });
});
