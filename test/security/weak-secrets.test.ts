// Attack class: a short, guessable secret that still switches its feature on
// (ADMIN_SECRET: issue tokens for anyone; STATUS_SECRET: read the rollout;
// OVERRIDE_SECRET: forge a tester override and pick your colour). Each secret
// here is one byte short of the minimum, so an attacker who guesses it (or
// simply knows it, as here) must gain nothing, and the operator must be told.
// Defence: shared/http/secrets.ts (MIN_SECRET_BYTES, one rule for every
// Worker) used by workers/auth/admin.ts, workers/splitter/status.ts and
// workers/splitter/override.ts: 503 weak_secret with how to generate a
// secret, logged once, the secret never echoed.
import { createHmac } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevServer } from "../node/helpers/wrangler-dev.ts";
import { raw, rawRequest, startControl, startOrigin, startSplitter, stateDir, type Origin } from "./helpers.ts";

const MIN = 32; // shared/http/secrets.ts MIN_SECRET_BYTES
const WEAK_ADMIN = "weak-admin-secret-31-bytes-long"; // 31 bytes
const WEAK_STATUS = "weak-status-secret-31-bytes-lon";
const WEAK_OVERRIDE = "weak-override-secret-31-bytes-l";

let blue: Origin;
let evil: Origin;
let control: DevServer;
let splitter: DevServer;
let state: Awaited<ReturnType<typeof stateDir>>;

beforeAll(async () => {
  for (const s of [WEAK_ADMIN, WEAK_STATUS, WEAK_OVERRIDE]) expect(Buffer.byteLength(s)).toBe(MIN - 1);
  blue = await startOrigin("blue");
  evil = await startOrigin("evil"); // green, at 0%: only a (forged) override could reach it
  state = await stateDir("weak");
  splitter = await startSplitter(state.dir, blue.url, evil.url, 0, { OVERRIDE_SECRET: WEAK_OVERRIDE });
  control = await startControl(state.dir, { STATUS_SECRET: WEAK_STATUS, ADMIN_SECRET: WEAK_ADMIN });
}, 180_000);

afterAll(async () => {
  await Promise.all([control?.stop(), splitter?.stop()]);
  await Promise.all([blue?.close(), evil?.close()]);
  await state?.remove();
});

/** What a client could send as the secret: the weak secret itself and its neighbours, or nothing. */
const presented = (weak: string) =>
  fc.oneof(
    fc.constant(weak),
    fc.constant(`${weak}x`),
    fc.constant(weak.slice(0, -1)),
    fc.constant(""),
    fc.string({ unit: fc.constantFrom(..."abcdef0123456789-"), maxLength: 64 }),
  );

function expectWeak(r: { status: number; body: string }, name: string, env: string, weak: string): void {
  expect(r.status).toBe(503);
  const body = JSON.parse(r.body) as { error: string; message: string };
  expect(body.error).toBe("weak_secret");
  expect(body.message).toContain(`shorter than ${MIN} bytes`);
  expect(body.message).toContain(`openssl rand -base64 32 | npx wrangler secret put ${name} --env ${env}`);
  expect(r.body).not.toContain(weak);
}

let n = 0;
const ip = () => `198.19.${(++n >> 8) & 0xff}.${n & 0xff}`;

describe("a weak ADMIN_SECRET turns the admin API off, with a clear error", () => {
  it("every admin route, any credential (the weak secret included): 503 weak_secret, nothing issued or revoked", async () => {
    const routes: [string, string][] = [
      ["POST", "/__edgekv/tokens"],
      ["POST", "/__edgekv/tokens/"],
      ["DELETE", `/__edgekv/tokens/${"a".repeat(64)}`],
      ["DELETE", "/__edgekv/tokens/users/alice"],
    ];
    await fc.assert(
      fc.asyncProperty(presented(WEAK_ADMIN), fc.constantFrom(...routes), fc.constantFrom("Bearer", "bearer"), async (secret, [method, path], scheme) => {
        const body = '{"user":"mallory"}';
        const req = rawRequest(
          path,
          { Authorization: `${scheme} ${secret}`, "CF-Connecting-IP": ip(), "Content-Type": "application/json", "Content-Length": String(body.length) },
          method,
        );
        const r = await raw(control.port, req.replace(/\r\n\r\n$/, `\r\n\r\n${body}`));
        expectWeak(r, "ADMIN_SECRET", "control", WEAK_ADMIN);
        expect(r.body).not.toContain("ekv_");
      }),
      { numRuns: 40 },
    );
    expect(evil.seen.filter((s) => s.url.includes("__edgekv"))).toEqual([]);
  });

  it("is logged once per isolate, not once per request", async () => {
    const lines = control
      .output()
      .split("\n")
      .filter((l) => l.includes("ADMIN_SECRET is shorter than"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(WEAK_ADMIN);
  });
});

describe("a weak STATUS_SECRET turns the status page off, with a clear error", () => {
  it("both routes, the secret in the header or the query: 503 weak_secret, no rollout data", async () => {
    await fc.assert(
      fc.asyncProperty(
        presented(WEAK_STATUS),
        fc.constantFrom("/__edgekv/status", "/__edgekv/status.json", "/__edgekv/status/"),
        fc.boolean(),
        async (secret, path, inQuery) => {
          const target = inQuery ? `${path}?token=${encodeURIComponent(secret)}` : path;
          const r = await raw(
            control.port,
            rawRequest(target, inQuery ? { "CF-Connecting-IP": ip() } : { Authorization: `Bearer ${secret}`, "CF-Connecting-IP": ip() }),
          );
          expectWeak(r, "STATUS_SECRET", "control", WEAK_STATUS);
          expect(r.body).not.toContain(blue.url);
          expect(r.body).not.toContain("percent");
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe("a weak OVERRIDE_SECRET signs nothing the splitter accepts", () => {
  const sign = (secret: string, color: string, exp: number) =>
    `${color}.${exp}.${createHmac("sha256", secret).update(`edgekv-override:${color}.${exp}`).digest("base64url")}`;

  it("a correctly signed override (header or cookie) is ignored: the request goes by its bucket, green sees nothing", async () => {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const value = sign(WEAK_OVERRIDE, "green", exp);
    for (const headers of [{ "x-edgekv-override": value }, { Cookie: `edgekv_override=${value}` }] as Record<string, string>[]) {
      const r = await raw(splitter.port, rawRequest("/page", headers));
      expect(r.status).toBe(200);
      expect(r.head).toMatch(/\r\nx-edgekv-color: blue/i);
      expect(r.head).not.toMatch(/\r\nx-edgekv-reason: override/i);
    }
    expect(evil.seen).toEqual([]);
  });

  it("each weak secret is logged once per isolate, and the log never holds it", async () => {
    await raw(splitter.port, rawRequest("/page", { "x-edgekv-override": sign(WEAK_OVERRIDE, "green", Math.floor(Date.now() / 1000) + 60) }));
    const out = splitter.output();
    expect(out.split("\n").filter((l) => l.includes("OVERRIDE_SECRET is shorter than"))).toHaveLength(1);
    expect(out).not.toContain(WEAK_OVERRIDE);
    const ctl = control.output();
    expect(ctl.split("\n").filter((l) => l.includes("STATUS_SECRET is shorter than"))).toHaveLength(1);
    expect(ctl).not.toContain(WEAK_STATUS);
  });
});
