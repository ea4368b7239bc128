// Attack class (issue 20, class 2), end to end: gate -> splitter -> blue/green,
// both colours verifying the gate's assertion against ONE shared jti replay
// cache (as docs/auth.md advises for several origins). Before, the splitter
// sent a mirrored copy, carrying the user's assertion, ahead of the user's own
// request: the copy used the jti first and the user was refused as a replay
// (1 in 20 in one run), and the other colour held a replayable assertion of
// every mirrored user. Now copies carry no assertion by default, and even with
// `mirror.forwardCredentials` they are sent only after the user's request was
// answered: the user is never the one refused.
// Defence: workers/splitter/mirror.ts, handler.ts (docs/splitter.md "Mirroring").
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatePrivateJwk } from "../../workers/auth/assertion.ts";
import { cli } from "../node/helpers/cli.ts";
import { freePort } from "../node/helpers/ports.ts";
import { ASSERTION_HEADER, identityEnvFile, startVerifyingOrigin, type Verdict, type VerifyingOrigin } from "../node/helpers/verifying-origin.ts";
import { startWranglerDev, type DevServer } from "../node/helpers/wrangler-dev.ts";
import { issueToken, stateDir } from "./helpers.ts";

let state: Awaited<ReturnType<typeof stateDir>>;
let splitter: DevServer;
let gate: DevServer;
let blue: VerifyingOrigin;
let green: VerifyingOrigin;
let token: string;
const sharedReplayCache = new Map<string, number>();

/** Writes the stored config plus `mirror` with the real CLI (CONFIG_TTL_MS=0: the splitter reads it at once). */
async function setMirror(mirror: Record<string, unknown>): Promise<void> {
  const got = await cli(["rollout", "config", "get", "--persist-to", state.dir]);
  const file = join(state.dir, "rollout.json");
  await writeFile(file, JSON.stringify({ ...(JSON.parse(got.stdout) as object), mirror }));
  const put = await cli(["rollout", "config", "put", file, "--yes", "--persist-to", state.dir]);
  if (put.code !== 0) throw new Error(`config put failed: ${put.stderr}`);
}

beforeAll(async () => {
  state = await stateDir("mirror-replay");
  const [splitterPort, gatePort] = [await freePort(), await freePort()];
  const common = { issuer: `http://127.0.0.1:${gatePort}`, audience: `http://127.0.0.1:${splitterPort}`, usedJti: sharedReplayCache };
  blue = await startVerifyingOrigin({ name: "blue", ...common });
  green = await startVerifyingOrigin({ name: "green", ...common });
  const init = await cli(["rollout", "init", "--blue", blue.url, "--green", green.url, "--live", "blue", "--force", "--yes", "--persist-to", state.dir]);
  if (init.code !== 0) throw new Error(`rollout init failed: ${init.stderr}`);
  await setMirror({ percent: 100 });
  token = await issueToken(state.dir, ["--user", "alice"]);
  // One after the other: two workerd creating the same local state at once can hit SQLITE_BUSY.
  splitter = await startWranglerDev({ env: "splitter", persistTo: state.dir, port: splitterPort, vars: { CONFIG_TTL_MS: "0" } });
  gate = await startWranglerDev({
    env: "auth",
    persistTo: state.dir,
    port: gatePort,
    vars: { ORIGIN_URL: splitter.url },
    envFile: await identityEnvFile(state.dir, await generatePrivateJwk("ES256")),
  });
}, 180_000);

afterAll(async () => {
  await gate?.stop();
  await splitter?.stop();
  await Promise.all([blue?.close(), green?.close()]);
  await state?.remove();
});

/** `n` users' requests through the gate; waits for their copies (waitUntil, after each response). */
async function run(n: number, tag: string): Promise<{ statuses: number[]; copies: Verdict[] }> {
  blue.seen.length = 0;
  green.seen.length = 0;
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${gate.url}/api/${tag}?i=${i}`, { headers: { Authorization: `Bearer ${token}`, Cookie: "session=s3cr3t" } });
    statuses.push(res.status);
    await res.arrayBuffer();
  }
  for (let i = 0; i < 100 && green.seen.length < n; i++) await new Promise((r) => setTimeout(r, 50));
  return { statuses, copies: green.seen.filter((v) => v.headers["x-edgekv-mirror"] === "1") };
}

describe("mirroring behind the gate, with one replay cache for both colours", () => {
  it("by default: every user is accepted; the copies carry no assertion, identity, token or session cookie", async () => {
    const { statuses, copies } = await run(30, "default");
    expect(statuses).toEqual(Array(30).fill(200));
    expect(blue.seen.every((v) => v.ok && v.sub === "alice")).toBe(true);
    expect(copies).toHaveLength(30);
    for (const c of copies) {
      expect(c.reason).toBe("no assertion");
      expect(Object.keys(c.headers).filter((k) => k.startsWith("x-edgekv-"))).toEqual(["x-edgekv-mirror"]);
      expect(c.headers).not.toHaveProperty("authorization");
      expect(String(c.headers.cookie ?? "")).not.toContain("session");
    }
  });

  it("with mirror.forwardCredentials: still no user refused; it is the late copy that the replay cache refuses", async () => {
    await setMirror({ percent: 100, forwardCredentials: true });
    const { statuses, copies } = await run(30, "opt-in");
    expect(statuses).toEqual(Array(30).fill(200));
    expect(blue.seen.every((v) => v.ok)).toBe(true);
    expect(copies).toHaveLength(30);
    // The copy carries the user's assertion (the documented risk) and arrives after it was used.
    for (const c of copies) {
      expect(typeof c.headers[ASSERTION_HEADER]).toBe("string");
      expect(c.reason).toBe("jti replayed");
    }
    await setMirror({ percent: 100 });
  });
});
