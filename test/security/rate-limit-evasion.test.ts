// Attack class: evading the failed-attempt limiter by looking like many
// clients (rotating IPv6 addresses within one's own /64, spelling one address
// many ways, IPv4-mapped forms, junk or spoofed client-IP headers), and its
// mirror image, locking out other people: with no CF-Connecting-IP (a caller
// Worker on a service binding), one shared "unknown" bucket that 20 bad tokens
// fill for everyone.
// Defence: shared/http/limiter.ts clientKey (IPv4 address, IPv6 /64, one
// bucket for every malformed value; without an IP, a fingerprint of the
// presented credential plus a per-isolate cap), used by the gate, the admin API
// and the status page; docs/auth.md "Rate limiting".
//
// How the client address is set here: `wrangler dev` (and Miniflare) pass a
// client-sent CF-Connecting-IP through unchanged and set 127.0.0.1 only when
// there is none, so the address cases go through `wrangler dev` with that
// header. A request WITHOUT the header cannot be made through `wrangler dev`
// (it always adds one), so the no-IP cases use a real service binding: a caller
// Worker in Miniflare that forwards to the bundled gate without the header, as
// a Worker in front of the gate would (also tested in test/auth/worker.test.ts).
import { join } from "node:path";
import fc from "fast-check";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { bundleWorker } from "../../scripts/runtime.ts";
import { ROOT } from "../../scripts/wrangler-dev.ts";
import type { DevServer } from "../node/helpers/wrangler-dev.ts";
import { issueToken, raw, rawRequest, startGate, startOrigin, stateDir, type Origin, limiterWindowHeadroom } from "./helpers.ts";

// Each test counts failures up to the limit: never across a limiter window boundary.
beforeEach(() => limiterWindowHeadroom(), 70_000);

const LIMIT = 20; // wrangler.toml [[env.auth.ratelimits]] simple.limit
const CONTROL_LIMIT = 10; // wrangler.toml [[env.control.ratelimits]] simple.limit
const ADMIN_SECRET = "rate-limit-evasion-admin-secret-0123456789";

let app: Origin;
let gate: DevServer;
let state: Awaited<ReturnType<typeof stateDir>>;
let valid: string;

beforeAll(async () => {
  app = await startOrigin("app");
  state = await stateDir("ratelimit");
  valid = await issueToken(state.dir, ["--user", "victim"]);
  gate = await startGate(state.dir, app.url);
}, 180_000);

afterAll(async () => {
  await gate?.stop();
  await app?.close();
  await state?.remove();
});

let junkSeq = 0;
/** A malformed token: refused offline, counted as a failure. */
const badToken = () => `ekv_bad${(junkSeq++).toString(36)}${Math.random().toString(36).slice(2)}`;
const attempt = (ip: string | null, token = badToken(), extra: Record<string, string> = {}) =>
  raw(gate.port, rawRequest("/private", { Authorization: `Bearer ${token}`, ...(ip === null ? {} : { "CF-Connecting-IP": ip }), ...extra }));

const hex = (n: number) => n.toString(16);
/** One address spelled one of many ways: case, leading zeros, "::" anywhere it fits, brackets, a zone id. */
function spell(h: number[], seed: number): string {
  const parts = h.map((x) => {
    const s = seed & 1 ? x.toString(16).padStart(4, "0") : x.toString(16);
    return seed & 2 ? s.toUpperCase() : s;
  });
  let text = parts.join(":");
  const zeroRun = h.findIndex((x, i) => x === 0 && i >= 4);
  if (seed & 4 && zeroRun >= 0) {
    let end = zeroRun;
    while (end < 8 && h[end] === 0) end++;
    text = `${parts.slice(0, zeroRun).join(":")}::${parts.slice(end).join(":")}`;
  }
  if (seed & 8) return `[${text}]`;
  if (seed & 16) return `${text}%eth${seed % 3}`;
  return text;
}

let prefixSeq = 0;
const freshPrefix = () => [0x2001, 0xdb8, 0xe0a, ++prefixSeq];

describe("addresses: one client is one bucket however it rotates or spells its address", () => {
  it("rotating interface ids within one /64 (any spelling) is locked out together; even a valid token then gets 429", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 4, maxLength: 4 }), fc.nat()), {
          minLength: LIMIT + 3,
          maxLength: LIMIT + 3,
        }),
        async (hosts) => {
          const p = freshPrefix();
          const statuses: number[] = [];
          for (const [iid, seed] of hosts.slice(0, LIMIT + 1)) statuses.push((await attempt(spell([...p, ...iid], seed))).status);
          expect(statuses).toEqual([...Array(LIMIT).fill(401), 429]);
          const [iid, seed] = hosts[LIMIT + 1]!;
          expect((await attempt(spell([...p, ...iid], seed), valid)).status).toBe(429);
          // The neighbouring /64 is someone else.
          const neighbour = [...p.slice(0, 3), p[3]! + 0x8000];
          expect((await attempt(spell([...neighbour, ...hosts[LIMIT + 2]![0]], 0))).status).toBe(401);
        },
      ),
      { numRuns: 3 },
    );
  });

  it("an IPv4 client cannot escape by switching to its IPv4-mapped IPv6 forms", async () => {
    const v4 = "203.0.113.77";
    const forms = [v4, `::ffff:${v4}`, `::FFFF:${v4}`, `0:0:0:0:0:ffff:${v4}`, `[::ffff:${v4}]`, "::ffff:cb00:714d", "0000:0000:0000:0000:0000:FFFF:CB00:714D"];
    const statuses: number[] = [];
    for (let i = 0; i <= LIMIT; i++) statuses.push((await attempt(forms[i % forms.length]!)).status);
    expect(statuses).toEqual([...Array(LIMIT).fill(401), 429]);
    for (const f of forms) expect((await attempt(f, valid)).status, f).toBe(429);
  });

  it("varying junk in CF-Connecting-IP makes no fresh buckets: all junk is one client", async () => {
    const junk = fc.sample(
      fc.oneof(
        fc.string({ unit: fc.constantFrom(..."ghijklmnopqrstuvwxyz!#$&*+-_~"), minLength: 1, maxLength: 30 }),
        fc.tuple(fc.integer({ min: 256, max: 999 }), fc.nat(255)).map(([a, b]) => `${a}.${b}.0.1`),
        fc.nat(65535).map((n) => `10.0.0.1:${n}`),
        fc.nat(0xfffff).map((n) => `2001:db8::${hex(n)}::1`),
      ),
      { numRuns: LIMIT + 5, seed: 42 },
    );
    const statuses: number[] = [];
    for (const j of junk) statuses.push((await attempt(j)).status);
    expect(statuses.slice(0, LIMIT)).toEqual(Array(LIMIT).fill(401));
    expect(statuses.slice(LIMIT)).toEqual(Array(5).fill(429));
    expect((await attempt("yet-another-junk-value", valid)).status).toBe(429);
  });

  it("other client-IP headers (X-Forwarded-For, X-Real-IP, True-Client-IP, Forwarded) are not who the client is", async () => {
    const ip = "198.51.100.201";
    const statuses: number[] = [];
    for (let i = 0; i <= LIMIT; i++) {
      const spoof = `10.${i}.${i}.${i}`;
      statuses.push(
        (await attempt(ip, badToken(), { "X-Forwarded-For": spoof, "X-Real-IP": spoof, "True-Client-IP": spoof, Forwarded: `for=${spoof}` })).status,
      );
    }
    expect(statuses).toEqual([...Array(LIMIT).fill(401), 429]);
  });

  it("a client locked out by bad tokens gets 429 on every path, /__edgekv/tokens included (no admin API on the gate)", async () => {
    const ip = "198.51.100.202";
    for (let i = 0; i <= LIMIT; i++) await attempt(ip);
    const r = await raw(
      gate.port,
      rawRequest("/__edgekv/tokens", { Authorization: `Bearer ${ADMIN_SECRET}`, "CF-Connecting-IP": ip, "Content-Length": "15" }, "POST").replace(
        /\r\n\r\n$/,
        '\r\n\r\n{"user":"mall"}',
      ),
    );
    expect(r.status).toBe(429);
  });
});

describe("no CF-Connecting-IP (a caller Worker on a service binding): no shared bucket", () => {
  let mf: Miniflare;
  let mfState: Awaited<ReturnType<typeof stateDir>>;
  let victimToken: string;
  // Forwards everything to the gate without the client's address, as a careless caller Worker would.
  const CALLER = `export default { fetch(req, env) {
    const h = new Headers(req.headers); h.delete("cf-connecting-ip");
    return env.GATE.fetch(new Request(req.url, { method: req.method, headers: h, body: req.body }));
  } }`;

  beforeAll(async () => {
    mfState = await stateDir("ratelimit-binding");
    victimToken = await issueToken(mfState.dir, ["--user", "behind-caller"]);
    const gateJs = await bundleWorker("auth", false);
    const { workerOptions } = unstable_getMiniflareWorkerOptions(join(ROOT, "wrangler.toml"), "auth");
    const { modulesRules: _rules, ...gateOptions } = workerOptions as Record<string, unknown>;
    const controlJs = await bundleWorker("control", false);
    const { modulesRules: _controlRules, ...controlOptions } = unstable_getMiniflareWorkerOptions(join(ROOT, "wrangler.toml"), "control")
      .workerOptions as Record<string, unknown>;
    mf = new Miniflare(
      convertV4MiniflareOptions({
        workers: [
          { name: "caller", modules: true, script: CALLER, serviceBindings: { GATE: "gate" }, compatibilityDate: "2026-11-01" },
          {
            ...gateOptions,
            name: "gate",
            modules: [{ type: "ESModule", path: "gate.js", contents: gateJs }],
            compatibilityDate: "2026-11-01",
            bindings: { ...((gateOptions.bindings as Record<string, unknown> | undefined) ?? {}), ORIGIN_URL: app.url },
          },
          // The control Worker (the admin API) behind the same kind of careless caller.
          {
            name: "control-caller",
            modules: true,
            script: CALLER.replace("env.GATE", "env.CONTROL"),
            serviceBindings: { CONTROL: "control" },
            compatibilityDate: "2026-11-01",
          },
          {
            ...controlOptions,
            name: "control",
            modules: [{ type: "ESModule", path: "control.js", contents: controlJs }],
            compatibilityDate: "2026-11-01",
            bindings: { ...((controlOptions.bindings as Record<string, unknown> | undefined) ?? {}), ADMIN_SECRET },
          },
        ],
        resourcePersistencePath: join(mfState.dir, "v3"),
        host: "127.0.0.1",
        port: 0,
        verbose: false,
      } as Parameters<typeof convertV4MiniflareOptions>[0]),
    );
    await mf.ready;
  }, 180_000);

  afterAll(async () => {
    await mf?.dispose();
    await mfState?.remove();
  });

  const viaCaller = (path: string, init: RequestInit) => mf.dispatchFetch(`http://gate.test${path}`, init as never);
  const viaControlCaller = async (path: string, init: RequestInit) =>
    (await mf.getWorker("control-caller")).fetch(`http://control.test${path}`, init as never) as unknown as Promise<Response>;

  it("one bad token hammered is limited; another client's bad token is still judged on its own, and a valid token gets through", async () => {
    const hammered = badToken();
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 3; i++) statuses.push((await viaCaller("/private", { headers: { Authorization: `Bearer ${hammered}` } })).status);
    expect(statuses).toEqual([...Array(LIMIT).fill(401), 429, 429, 429]);
    // With one shared "unknown" bucket these would be 429 as well.
    expect((await viaCaller("/private", { headers: { Authorization: `Bearer ${badToken()}` } })).status).toBe(401);
    const ok = await viaCaller("/private", { headers: { Authorization: `Bearer ${victimToken}` } });
    expect(ok.status).toBe(200);
    expect(app.seen.some((s) => s.url === "/private")).toBe(true);
  });

  it("an attacker behind the caller guessing the control Worker's ADMIN_SECRET cannot lock the caller's own admin calls out", async () => {
    const post = (secret: string) =>
      viaControlCaller("/__edgekv/tokens", {
        method: "POST",
        headers: { Authorization: `Bearer ${secret}` },
        body: JSON.stringify({ user: "issued-behind-caller" }),
      });
    const wrong = `wrong-${badToken()}`;
    const statuses: number[] = [];
    for (let i = 0; i <= CONTROL_LIMIT; i++) statuses.push((await post(wrong)).status);
    expect(statuses).toEqual([...Array(CONTROL_LIMIT).fill(401), 429]);
    // Without an address the client IS its credential: the right secret is another client, so it works.
    expect((await post(ADMIN_SECRET)).status).toBe(201);
  });
});
