/**
 * The bounds of issue 24 in the real runtime: `edgekv token rotate` through the
 * real CLI on the local state a `wrangler dev` gate reads (ALLOW_CACHE_SECONDS
 * = 1). The old token, cached by the gate just before, is still allowed before
 * its grace and refused once grace + ALLOW_CACHE_SECONDS have passed; the new
 * one works at once. No timing assert: each check is on one side of a bound,
 * with slack.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli } from "../node/helpers/cli.ts";
import type { DevServer } from "../node/helpers/wrangler-dev.ts";
import { issueToken, startGate, startOrigin, stateDir, type Origin } from "./helpers.ts";

const ALLOW_CACHE_SECONDS = 1;
let app: Origin;
let gate: DevServer;
let state: Awaited<ReturnType<typeof stateDir>>;

const idOf = (t: string) => createHash("sha256").update(t).digest("hex").slice(0, 12);
const call = async (token: string) => (await fetch(`${gate.url}/app`, { headers: { authorization: `Bearer ${token}` } })).status;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  app = await startOrigin("app");
  state = await stateDir("rotation-bound");
  gate = await startGate(state.dir, app.url, { ALLOW_CACHE_SECONDS: String(ALLOW_CACHE_SECONDS) });
}, 240_000);

afterAll(async () => {
  await gate?.stop();
  await app?.close();
  await state?.remove();
});

describe("rotation bound at a wrangler dev gate", () => {
  it("a long grace: the old token and the new one both work (no cut-over outage)", async () => {
    const old = await issueToken(state.dir, ["--user", "ops", "--ttl", "3600"]);
    expect(await call(old)).toBe(200);
    const r = await cli(["token", "rotate", "--id", idOf(old), "--grace", "1h", "--persist-to", state.dir]);
    expect(r.code, r.stderr).toBe(0);
    const next = r.stdout.trim();
    expect(await call(next)).toBe(200);
    // Past the cache bound, the gate reads the rewritten record: still inside the grace.
    await sleep((ALLOW_CACHE_SECONDS + 1) * 1000);
    expect(await call(old)).toBe(200);
  });

  it("--grace 0: the old token, cached just before, is refused once ALLOW_CACHE_SECONDS has passed", async () => {
    const old = await issueToken(state.dir, ["--user", "ops2", "--ttl", "3600"]);
    expect(await call(old)).toBe(200); // cached now
    const r = await cli(["token", "rotate", "--id", idOf(old), "--grace", "0", "--persist-to", state.dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(await call(r.stdout.trim())).toBe(200);
    await sleep((ALLOW_CACHE_SECONDS + 1) * 1000);
    expect(await call(old)).toBe(401);
  });
});
