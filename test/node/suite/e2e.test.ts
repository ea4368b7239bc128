// The whole suite end to end, started the way `npm start` starts it:
// request -> auth gate -> splitter -> blue/green origin, plus the site Worker.
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSuite, type Suite } from "../../../scripts/start.ts";
import { ROOT, cli } from "../helpers/cli.ts";
import { freePort } from "../helpers/ports.ts";

let suite: Suite;
let dir: string;
const logs: string[] = [];

// Documented local bounds (README, Consistency), plus 2 s of slack for a loaded machine.
const SLACK_MS = 2_000;
const ROLLOUT_BOUND_MS = 5_000 + SLACK_MS; // CONFIG_TTL_MS
const SITE_BOUND_MS = 5_000 + SLACK_MS; // pointer refresh under traffic
const REVOKE_BOUND_MS = 10_000 + SLACK_MS; // ALLOW_CACHE_SECONDS

/** Polls `check` until it returns true; fails when `ms` pass first. */
async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function requestCount(server: { output(): string }): number {
  // wrangler dev logs one line per request: "[wrangler:info] GET /path 200 OK (3ms)"
  return (server.output().match(/\[wrangler:info\] [A-Z]+ \//g) ?? []).length;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-suite-"));
  const env = {
    ...process.env,
    EDGEKV_SITE_PORT: String(await freePort()),
    EDGEKV_SPLITTER_PORT: String(await freePort()),
    EDGEKV_AUTH_PORT: String(await freePort()),
    EDGEKV_BLUE_PORT: String(await freePort()),
    EDGEKV_GREEN_PORT: String(await freePort()),
    // Every port the suite opens: test files run in parallel, and two runs on the default 8792 collide.
    EDGEKV_CONTROL_PORT: String(await freePort()),
  };
  suite = await startSuite({ persistTo: dir, env, log: (s) => logs.push(s) });
}, 180_000);

afterAll(async () => {
  await suite?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("npm start topology", () => {
  it("seeds on first start: demo site, rollout at 0% blue, one demo token", async () => {
    expect(logs.join("\n")).toContain("seeding: publishing demo/site");
    expect(suite.token).toMatch(/\S{20,}/);
    const status = await cli(["rollout", "status", "--json", "--persist-to", dir]);
    expect(status.code).toBe(0);
  });

  it("the five ports answer", async () => {
    for (const port of Object.values(suite.ports)) {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      expect(res.status).toBeLessThan(500);
    }
  });

  it("the site Worker serves the demo site", async () => {
    const res = await fetch(`http://127.0.0.1:${suite.ports.site}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(await res.text()).toContain("Served from Workers KV");
  });

  it("a rejected request reaches neither the splitter nor an origin", async () => {
    const splitterBefore = requestCount(suite.workers.splitter);
    const originBefore = suite.origins.blue.seen.length + suite.origins.green.seen.length;
    for (const headers of [{} as Record<string, string>, { authorization: "Bearer ekv_not_a_real_token" }, { authorization: "Basic Zm9vOmJhcg==" }]) {
      const res = await fetch(`http://127.0.0.1:${suite.ports.auth}/api/hello`, { headers });
      expect([400, 401]).toContain(res.status);
    }
    await new Promise((r) => setTimeout(r, 300)); // let wrangler flush its request log
    expect(requestCount(suite.workers.splitter)).toBe(splitterBefore);
    expect(suite.origins.blue.seen.length + suite.origins.green.seen.length).toBe(originBefore);
  });

  it("an allowed request reaches exactly one origin, with the identity headers the gate set", async () => {
    const before = { blue: suite.origins.blue.seen.length, green: suite.origins.green.seen.length };
    const res = await fetch(`http://127.0.0.1:${suite.ports.auth}/api/hello?x=1`, {
      headers: { authorization: `Bearer ${suite.token}`, "x-edgekv-user": "mallory" },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { color: string; user: string; path: string };
    expect(body).toMatchObject({ color: "blue", user: "demo", path: "/api/hello?x=1" });
    expect(suite.origins.blue.seen.length - before.blue).toBe(1);
    expect(suite.origins.green.seen.length - before.green).toBe(0);
    const seen = suite.origins.blue.seen.at(-1)!;
    expect(seen.headers["x-edgekv-user"]).toBe("demo");
    expect(seen.headers.authorization).toBeUndefined();
  });

  it("follows a rollout change made with the CLI while it runs", async () => {
    expect((await cli(["rollout", "set", "100", "--persist-to", dir])).code).toBe(0);
    await within(ROLLOUT_BOUND_MS, async () => {
      const res = await fetch(`http://127.0.0.1:${suite.ports.auth}/api/who`, {
        headers: { authorization: `Bearer ${suite.token}`, accept: "application/json" },
      });
      return ((await res.json()) as { color: string }).color === "green";
    });
  });

  it("a site deploy made with the CLI while it runs changes what the site Worker serves", async () => {
    const copy = join(dir, "site-copy");
    await cp(join(ROOT, "demo", "site"), copy, { recursive: true });
    const index = join(copy, "index.html");
    await writeFile(index, (await readFile(index, "utf8")).replace("Served from Workers KV", "Redeployed while running"));
    const deploy = await cli(["site", "deploy", copy, "--persist-to", dir]);
    expect(deploy.code, deploy.stderr).toBe(0);
    await within(SITE_BOUND_MS, async () => (await (await fetch(`http://127.0.0.1:${suite.ports.site}/`)).text()).includes("Redeployed while running"));
    // The unchanged stylesheet is still served, under the same immutable name.
    const css = await fetch(`http://127.0.0.1:${suite.ports.site}/assets/site.ffb8591d.css`);
    expect(css.status).toBe(200);
  });

  it("a token revoked with the CLI while it runs stops working on the gate", async () => {
    const revoke = await cli(["token", "revoke", "--stdin", "--persist-to", dir], { input: `${suite.token!}\n` });
    expect(revoke.code).toBe(0);
    await within(REVOKE_BOUND_MS, async () => {
      const res = await fetch(`http://127.0.0.1:${suite.ports.auth}/api/hello`, { headers: { authorization: `Bearer ${suite.token}` } });
      return res.status === 401;
    });
  });
});
