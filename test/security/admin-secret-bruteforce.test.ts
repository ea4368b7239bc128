// Attack class: guessing an endpoint secret (the gate's ADMIN_SECRET, the
// splitter's STATUS_SECRET) by brute force, and the "guess until locked out,
// then keep going in case the right one slips through" variant: any 201/200
// after a 429 would tell the attacker which guess was right.
// Defence: shared/http/limiter.ts (FailureLimiter, clientKey) consulted BEFORE
// the secret in workers/auth/admin.ts and workers/splitter/status.ts, over the
// FAILED_AUTH_LIMITER (20/60 s) and FAILED_STATUS_LIMITER (10/60 s) bindings;
// only failures count. wrangler dev passes a client-sent CF-Connecting-IP
// through (it sets 127.0.0.1 only when there is none), so each run here is a
// distinct client by that header.
import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DevServer } from "../node/helpers/wrangler-dev.ts";
import { raw, rawRequest, startControl, startOrigin, startSplitter, stateDir, type Origin, limiterWindowHeadroom } from "./helpers.ts";

// Each test counts failures up to the limit: never across a limiter window boundary.
beforeEach(() => limiterWindowHeadroom(), 70_000);

const ADMIN_SECRET = "bruteforce-admin-secret-0123456789abcdefXYZ";
const STATUS_SECRET = "bruteforce-status-secret-0123456789abcdefXYZ";
const ADMIN_LIMIT = 10; // wrangler.toml [[env.control.ratelimits]] simple.limit
const STATUS_LIMIT = 10; // the same FAILED_CONTROL_LIMITER
const PERIOD = 60;

let app: Origin;
let evil: Origin;
let control: DevServer;
let splitter: DevServer;
let state: Awaited<ReturnType<typeof stateDir>>;

beforeAll(async () => {
  app = await startOrigin("app");
  evil = await startOrigin("evil");
  state = await stateDir("bruteforce");
  // One after the other: the CLI's write and a starting workerd would contend for the same local state.
  splitter = await startSplitter(state.dir, app.url, evil.url, 0);
  // Both endpoints are the control Worker's (workers/control), behind one FAILED_CONTROL_LIMITER.
  control = await startControl(state.dir, { STATUS_SECRET, ADMIN_SECRET });
}, 180_000);

afterAll(async () => {
  await Promise.all([control?.stop(), splitter?.stop()]);
  await Promise.all([app?.close(), evil?.close()]);
  await state?.remove();
});

let client = 0;
/** A client address no other run uses (IPv4 and IPv6 alternately). */
const freshClient = () =>
  ++client % 2
    ? `198.18.${client >> 8}.${client & 0xff}`
    : `2001:db8:b${(client >> 16).toString(16)}:${(client & 0xffff).toString(16)}::${client.toString(16)}`;

type Attempt = { right: boolean; headers: Record<string, string>; query: string };

/** The class of wrong guesses: near misses of the real secret, other places and schemes, nothing at all. */
function wrongGuess(secret: string): fc.Arbitrary<Attempt> {
  const near = fc.oneof(
    fc.nat({ max: secret.length - 1 }).map((n) => secret.slice(0, n)),
    fc.string({ unit: fc.constantFrom(..."abcXYZ019-_"), minLength: 1, maxLength: 3 }).map((s) => secret + s),
    fc.nat({ max: secret.length - 1 }).map((i) => secret.slice(0, i) + (secret[i] === "a" ? "b" : "a") + secret.slice(i + 1)),
    fc.constant(secret.toUpperCase()),
    fc.constant(secret.split("").reverse().join("")),
    fc.string({ unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789+/="), minLength: 1, maxLength: 100 }),
    fc.constant("x".repeat(4000)),
  );
  return fc.oneof(
    near.map((g) => ({ right: false, headers: { Authorization: `Bearer ${g}` }, query: "" })),
    near.map((g) => ({ right: false, headers: { Authorization: `Basic ${g}` }, query: "" })),
    fc.constant({ right: false, headers: { Authorization: `Token ${secret}` }, query: "" }),
    fc.constant({ right: false, headers: { Authorization: secret }, query: "" }),
    fc.constant({ right: false, headers: { Cookie: `secret=${secret}`, "X-Admin-Secret": secret }, query: "" }),
    fc.constant({ right: false, headers: {}, query: "" }),
  );
}

const rightGuess = (secret: string): fc.Arbitrary<Attempt> =>
  fc.constantFrom(
    { right: true, headers: { Authorization: `Bearer ${secret}` }, query: "" },
    { right: true, headers: { Authorization: `bearer ${secret}` }, query: "" },
  );

/**
 * A sequence with enough wrong guesses to pass the limit, right ones mixed in
 * anywhere, and the right one repeated at the end.
 */
const sequence = (secret: string, limit: number) =>
  fc
    .tuple(
      fc.array(fc.oneof({ weight: 4, arbitrary: wrongGuess(secret) }, { weight: 1, arbitrary: rightGuess(secret) }), {
        minLength: limit + 1,
        maxLength: limit + 15,
      }),
      fc.array(wrongGuess(secret), { minLength: limit + 1, maxLength: limit + 1 }),
    )
    .map(([mixed, wrongs]) => [
      ...mixed,
      ...wrongs,
      { right: true, headers: { Authorization: `Bearer ${secret}` }, query: "" },
      { right: true, headers: { Authorization: `Bearer ${secret}` }, query: "" },
    ]);

/**
 * Plays `attempts` from one fresh client and checks every answer against the
 * model: failures counted, the (limit+1)th answered 429, and from then on 429
 * only, whatever is sent.
 */
async function play(
  send: (a: Attempt, ip: string) => Promise<{ status: number; head: string; body: string }>,
  attempts: Attempt[],
  limit: number,
  success: number,
  secret: string,
) {
  const ip = freshClient();
  let failures = 0;
  let locked = false;
  const seen: number[] = [];
  for (const a of attempts) {
    const r = await send(a, ip);
    seen.push(r.status);
    expect(r.body).not.toContain(secret);
    let want: number;
    if (locked) want = 429;
    else if (a.right) want = success;
    else want = ++failures > limit ? 429 : 401;
    if (want === 429) locked = true;
    expect(r.status, `attempt ${seen.length} (${JSON.stringify(a).slice(0, 80)}), statuses so far ${seen.join(",")}`).toBe(want);
    if (r.status === 429) {
      const retry = Number(/\r\nretry-after: (\d+)/i.exec(r.head)?.[1]);
      expect(retry).toBeGreaterThan(0);
      expect(retry).toBeLessThanOrEqual(PERIOD);
    }
  }
  // Never a success after the first 429.
  const first429 = seen.indexOf(429);
  expect(first429).toBeGreaterThan(0);
  expect(seen.slice(first429).every((s) => s === 429)).toBe(true);
}

const adminSend = (a: Attempt, ip: string) =>
  raw(
    control.port,
    rawRequest(
      `/__edgekv/tokens${a.query}`,
      { ...a.headers, "CF-Connecting-IP": ip, "Content-Type": "application/json", "Content-Length": "15" },
      "POST",
    ).replace(/\r\n\r\n$/, '\r\n\r\n{"user":"mall"}'),
  );
const statusSend = (a: Attempt, ip: string) => raw(control.port, rawRequest(`/__edgekv/status.json${a.query}`, { ...a.headers, "CF-Connecting-IP": ip }));

describe("the admin API (control Worker): limiter before the secret", () => {
  it("random guess sequences: 401 until the limit, then only 429, the right secret included", async () => {
    await fc.assert(
      fc.asyncProperty(sequence(ADMIN_SECRET, ADMIN_LIMIT), (attempts) => play(adminSend, attempts, ADMIN_LIMIT, 201, ADMIN_SECRET)),
      { numRuns: 5 },
    );
    // Nothing under /__edgekv/ is ever forwarded.
    expect(evil.seen.filter((s) => s.url.includes("__edgekv"))).toEqual([]);
  });

  it("a burst of parallel guesses cannot overshoot into a success: after it, the right secret is 429", async () => {
    const ip = freshClient();
    const burst = await Promise.all(
      Array.from({ length: ADMIN_LIMIT + 10 }, (_, i) => adminSend({ right: false, headers: { Authorization: `Bearer guess-${i}` }, query: "" }, ip)),
    );
    expect(burst.every((r) => r.status === 401 || r.status === 429)).toBe(true);
    expect(burst.some((r) => r.status === 429)).toBe(true);
    const after = await Promise.all(
      Array.from({ length: 5 }, () => adminSend({ right: true, headers: { Authorization: `Bearer ${ADMIN_SECRET}` }, query: "" }, ip)),
    );
    expect(after.map((r) => r.status)).toEqual([429, 429, 429, 429, 429]);
  });

  it("the lock-out is per client: another client with the right secret gets its 201", async () => {
    const r = await adminSend({ right: true, headers: { Authorization: `Bearer ${ADMIN_SECRET}` }, query: "" }, freshClient());
    expect(r.status).toBe(201);
  });
});

describe("the status page (control Worker): limiter before the secret", () => {
  it("random guess sequences: 401 until the limit, then only 429, the right secret included", async () => {
    await fc.assert(
      fc.asyncProperty(sequence(STATUS_SECRET, STATUS_LIMIT), (attempts) => play(statusSend, attempts, STATUS_LIMIT, 200, STATUS_SECRET)),
      { numRuns: 5 },
    );
  });

  it("the HTML page and the JSON share one lock-out; another client still gets in", async () => {
    const ip = freshClient();
    for (let i = 0; i <= STATUS_LIMIT; i++)
      await raw(control.port, rawRequest(i % 2 ? "/__edgekv/status" : "/__edgekv/status.json", { Authorization: `Bearer no-${i}`, "CF-Connecting-IP": ip }));
    for (const path of ["/__edgekv/status", "/__edgekv/status/", "/__edgekv/status.json"]) {
      expect((await raw(control.port, rawRequest(path, { Authorization: `Bearer ${STATUS_SECRET}`, "CF-Connecting-IP": ip }))).status, path).toBe(429);
    }
    expect((await statusSend({ right: true, headers: { Authorization: `Bearer ${STATUS_SECRET}` }, query: "" }, freshClient())).status).toBe(200);
  });
});
