// Attack class: error bodies that tell an attacker about the inside: origin
// URLs and ports, fetch and socket errors, KV keys and error text, stored
// documents. Client-facing errors carry a code and a generic message; the
// details go to the Worker's logs only.
// Defence: shared/http/errors.ts `toErrorResponse` (one place), and the
// splitter's and gate's origin calls putting details in the error's cause.
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli } from "../node/helpers/cli.ts";
import { startWranglerDev, type DevServer } from "../node/helpers/wrangler-dev.ts";
import { issueToken, startGate, stateDir } from "./helpers.ts";

let splitter: DevServer;
let gate: DevServer;
let state: Awaited<ReturnType<typeof stateDir>>;
let deadPort: number;
let token: string;

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

beforeAll(async () => {
  deadPort = await closedPort();
  state = await stateDir("errors");
  token = await issueToken(state.dir, ["--user", "alice"]);
  splitter = await startWranglerDev({ env: "splitter", persistTo: state.dir, vars: { CONFIG_TTL_MS: "0" } });
  gate = await startGate(state.dir, `http://127.0.0.1:${deadPort}/internal-prefix`);
}, 180_000);

afterAll(async () => {
  await Promise.all([splitter?.stop(), gate?.stop()]);
  await state?.remove();
});

const SECRETS = (port: number) => [
  "127.0.0.1",
  String(port),
  "internal-prefix",
  "ECONNREFUSED",
  "refused",
  "rollout/config",
  "ROLLOUT_KV",
  "KV GET",
  "tok/",
  "Error:",
  "at ",
];

function assertGeneric(body: string, port: number, label: string): { error: string; message: string } {
  const json = JSON.parse(body) as { error: string; message: string };
  expect(Object.keys(json).sort(), label).toEqual(["error", "message"]);
  for (const s of SECRETS(port)) expect(body, `${label} leaks "${s}"`).not.toContain(s);
  return json;
}

describe("client-facing errors say what happened, not where or how", () => {
  it("splitter with no rollout config: 503 no_rollout_config, nothing about KV", async () => {
    const res = await fetch(`${splitter.url}/x`);
    expect(res.status).toBe(503);
    expect(assertGeneric(await res.text(), deadPort, "no config").error).toBe("no_rollout_config");
  });

  it("splitter whose origin is down: 502 names the colour, not the URL or the socket error", async () => {
    const blue = `http://127.0.0.1:${deadPort}/internal-prefix`;
    const init = await cli(["rollout", "init", "--blue", blue, "--green", "http://127.0.0.1:9/other", "--live", "blue", "--persist-to", state.dir]);
    expect(init.code).toBe(0);
    let res = await fetch(`${splitter.url}/x`);
    for (let i = 0; res.status === 503 && i < 50; i++) {
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 100));
      res = await fetch(`${splitter.url}/x`);
    }
    expect(res.status).toBe(502);
    expect(assertGeneric(await res.text(), deadPort, "origin down")).toEqual({ error: "origin_unreachable", message: "the blue origin could not be reached" });
    // The operator still gets the detail, in the Worker's log (written after the response: poll for it).
    for (let i = 0; !splitter.output().includes(String(deadPort)) && i < 50; i++) await new Promise((r) => setTimeout(r, 100));
    expect(splitter.output()).toContain(String(deadPort));
  });

  it("gate whose origin is down: 502 bad_gateway with a generic message", async () => {
    const res = await fetch(`${gate.url}/x`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(502);
    expect(assertGeneric(await res.text(), deadPort, "gate origin down").error).toBe("bad_gateway");
  });

  it("refusals of bad paths and bad credentials stay generic too", async () => {
    for (const [url, init] of [
      [`${gate.url}/a%2Fb`, {}],
      [`${gate.url}/x`, { headers: { Authorization: "Bearer ekv_nope" } }],
      [`${splitter.url}/a%00b`, {}],
    ] as const) {
      const res = await fetch(url, init);
      expect(res.status).toBeGreaterThanOrEqual(400);
      assertGeneric(await res.text(), deadPort, url);
    }
  });
});
