// Attack class (issue 20, class 2): mirrored copies carry someone's
// credentials, or race the user. Before, a copy carried every header of the
// user's request (Authorization, cookies, the gate's identity assertion with
// its jti) to the other colour, and was sent before the real request, so a
// replay cache shared by both colours refused 1 in 20 users as a replay of
// their own copy; a client could also send `x-edgekv-mirror` and have a real
// request treated as a copy. Here the real splitter runs under `wrangler dev`
// (config written with the real CLI, mirror at 100%) in front of two recording
// origins that log, in one shared order, what each received.
// Defence: workers/splitter/mirror.ts, handler.ts, origin.ts (docs/splitter.md "Mirroring").
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { IncomingHttpHeaders } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli } from "../node/helpers/cli.ts";
import type { DevServer } from "../node/helpers/wrangler-dev.ts";
import { startOrigin, startSplitter, stateDir, type Origin } from "./helpers.ts";

interface Arrival {
  origin: string;
  url: string;
  headers: IncomingHttpHeaders;
}

let state: Awaited<ReturnType<typeof stateDir>>;
let blue: Origin;
let green: Origin;
let splitter: DevServer;
/** Every request either origin received, in arrival order. */
const arrivals: Arrival[] = [];
/** Blue (the user's colour) answers this much later: a copy sent first would arrive first. */
const BLUE_DELAY_MS = 150;

/** A recording origin that logs into `arrivals` at arrival, then answers after `delay`. */
function logging(name: string, delay: number) {
  return startOrigin(name, {
    reply: (req, _body, res) => {
      arrivals.push({ origin: name, url: req.url ?? "", headers: req.headers });
      setTimeout(() => res.writeHead(200, { "content-type": "text/plain" }).end(name), delay);
    },
  });
}

beforeAll(async () => {
  state = await stateDir("mirror-creds");
  blue = await logging("blue", BLUE_DELAY_MS);
  green = await logging("green", 0);
  splitter = await startSplitter(state.dir, blue.url, green.url, 0);
  const got = await cli(["rollout", "config", "get", "--persist-to", state.dir]);
  const config = { ...(JSON.parse(got.stdout) as object), mirror: { percent: 100, stripHeaders: ["X-Session-Token", "x-tenant-secret"] } };
  const file = join(state.dir, "rollout.json");
  await writeFile(file, JSON.stringify(config));
  const put = await cli(["rollout", "config", "put", file, "--yes", "--persist-to", state.dir]);
  if (put.code !== 0) throw new Error(`config put failed: ${put.stderr}`);
}, 180_000);

afterAll(async () => {
  await splitter?.stop();
  await Promise.all([blue?.close(), green?.close()]);
  await state?.remove();
});

let n = 0;
/** One request through the splitter; resolves with what blue (the user's origin) and green (the copy's) received. */
async function send(headers: Record<string, string>): Promise<{ user: Arrival; copy: Arrival; order: [number, number] }> {
  const path = `/page?req=${++n}`;
  const res = await fetch(`${splitter.url}${path}`, { headers });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
  // The copy runs in waitUntil, after the response: wait for it.
  for (let i = 0; i < 100 && !arrivals.some((a) => a.origin === "green" && a.url === path); i++) await new Promise((r) => setTimeout(r, 50));
  const ui = arrivals.findIndex((a) => a.origin === "blue" && a.url === path);
  const ci = arrivals.findIndex((a) => a.origin === "green" && a.url === path);
  expect(ui, "the user's request reached blue").toBeGreaterThanOrEqual(0);
  expect(ci, "the copy reached green").toBeGreaterThanOrEqual(0);
  return { user: arrivals[ui]!, copy: arrivals[ci]!, order: [ui, ci] };
}

const JWT = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbGljZSIsImp0aSI6ImoxIn0.c2lnbmF0dXJl";
const PAYLOADS: [what: string, headers: Record<string, string>, secrets: string[]][] = [
  ["Authorization: Bearer", { Authorization: "Bearer ekv_live_secret_token_0123456789" }, ["ekv_live_secret"]],
  ["Authorization: Basic", { Authorization: "Basic YWxpY2U6czNjcjN0LXBhc3M=" }, ["YWxpY2U6czNjcjN0"]],
  ["Proxy-Authorization", { "Proxy-Authorization": "Basic cHJveHk6czNjcjN0" }, ["cHJveHk6czNjcjN0"]],
  ["the gate's identity assertion", { "X-Edgekv-Jwt-Assertion": JWT }, [JWT]],
  [
    "the gate's identity headers",
    { "x-edgekv-user": "alice-identity", "x-edgekv-scopes": "admin:*", "x-edgekv-token-id": "tok0123456789", "x-edgekv-token-expires": "9999999999" },
    ["alice-identity", "admin:*", "tok0123456789"],
  ],
  ["an _ spelling of the assertion", { x_edgekv_jwt_assertion: JWT }, [JWT]],
  ["a credential cookie", { Cookie: "session=s3cr3t-session-value; edgekv_id=visitor-1-abcdef" }, ["s3cr3t-session-value"]],
  [
    "several cookies",
    { Cookie: "a=first-cookie-value; edgekv_id=visitor-1-abcdef; CF_Authorization=access-cookie-value; remember_me=long-lived-value" },
    ["first-cookie-value", "access-cookie-value", "long-lived-value"],
  ],
  ["API keys and Cloudflare Access", { "X-Api-Key": "api-key-value-123", "Cf-Access-Jwt-Assertion": JWT }, ["api-key-value-123", JWT]],
  ["operator-named headers (mirror.stripHeaders)", { "x-session-token": "operator-secret-1", "X-Tenant-Secret": "operator-secret-2" }, ["operator-secret"]],
  ["an operator-named header in _ spelling", { x_session_token: "operator-secret-3" }, ["operator-secret-3"]],
];

describe("a mirrored copy carries no one's credentials", () => {
  it.each(PAYLOADS)("%s: reaches the user's origin, never the copy's", async (_what, headers, secrets) => {
    const { user, copy } = await send({ ...headers, "x-app": "kept" });
    const seen = JSON.stringify(copy.headers);
    for (const s of secrets) expect(seen, `${s} on the copy`).not.toContain(s);
    expect(copy.headers["x-edgekv-mirror"]).toBe("1");
    expect(copy.headers["x-app"]).toBe("kept");
    // The user's own request is not the mirror's business (Proxy-Authorization aside: hop-by-hop).
    if (!("Proxy-Authorization" in headers)) for (const s of secrets) expect(JSON.stringify(user.headers), `${s} for the user`).toContain(s);
  });

  it("the copy's only cookie is the sticky id the user was routed by", async () => {
    for (const cookie of ["session=x1; edgekv_id=visitor-1-abcdef", "edgekv_id=visitor-1-abcdef; b=2", "edgekv_id=visitor-1-abcdef"]) {
      const { copy } = await send({ Cookie: cookie });
      expect(copy.headers.cookie).toBe("edgekv_id=visitor-1-abcdef");
    }
    const { copy } = await send({ Cookie: "session=only-session" });
    expect(String(copy.headers.cookie)).toMatch(/^edgekv_id=[\w-]{22}$/);
  });
});

describe("x-edgekv-mirror: set by the splitter on copies only", () => {
  it.each<Record<string, string>>([
    { "x-edgekv-mirror": "1" },
    { "X-EDGEKV-MIRROR": "1" },
    { x_edgekv_mirror: "1" },
    { "X-Edgekv_Mirror": "1" },
    { "x-edgekv-mirror": "0" },
  ])("a client's %o never reaches an origin; the copy carries exactly one, the splitter's", async (spoof) => {
    const { user, copy } = await send(spoof);
    expect(Object.keys(user.headers).filter((k) => /edgekv.mirror/i.test(k))).toEqual([]);
    expect(Object.entries(copy.headers).filter(([k]) => /edgekv.mirror/i.test(k))).toEqual([["x-edgekv-mirror", "1"]]);
  });
});

describe("a copy never overtakes the user's request", () => {
  it("the user's request reaches its origin before the copy reaches the other, every time", async () => {
    for (let i = 0; i < 20; i++) {
      const { order } = await send({ Authorization: `Bearer ekv_${i}` });
      expect(order[0]).toBeLessThan(order[1]);
    }
  });
});
