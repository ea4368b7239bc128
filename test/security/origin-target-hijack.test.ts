// Attack class: the request chooses where a proxying Worker sends it.
// A path starting with `//host` or `/\host` (raw, encoded, mixed, repeated),
// an absolute-form request target, or a Host header naming another server
// must never make the splitter or the gate connect anywhere but the
// configured origin. The "evil" origin records every request: it must see none.
// Defence: shared/http/path.ts (normalised, canonical path) and
// shared/http/target.ts (configured origin + path + query, origin re-checked).
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevServer } from "../node/helpers/wrangler-dev.ts";
import { issueToken, raw, rawRequest, startGate, startOrigin, startSplitter, stateDir, type Origin } from "./helpers.ts";

let evil: Origin;
let blue: Origin;
let green: Origin;
let app: Origin;
let splitter: DevServer;
let gate: DevServer;
let state: Awaited<ReturnType<typeof stateDir>>;
let token: string;
let evilHost: string;

beforeAll(async () => {
  [evil, blue, green, app] = await Promise.all([startOrigin("evil"), startOrigin("blue"), startOrigin("green"), startOrigin("app")]);
  evilHost = evil.url.slice("http://".length);
  state = await stateDir("hijack");
  token = await issueToken(state.dir, ["--user", "alice"]);
  // The gate's origin has a path prefix: the prefix must survive every payload too.
  // One after the other: two workerd creating the same local state at once can hit SQLITE_BUSY.
  splitter = await startSplitter(state.dir, blue.url, green.url, 50);
  gate = await startGate(state.dir, `${app.url}/prefix`, { PUBLIC_PATHS: "/public/*" });
}, 180_000);

afterAll(async () => {
  await Promise.all([splitter?.stop(), gate?.stop()]);
  await Promise.all([evil, blue, green, app].map((o) => o?.close()));
  await state?.remove();
});

/** Every way we know to spell "another host" at the start of a path. */
function hijackPaths(host: string): string[] {
  const leads = ["//", "/\\", "\\\\", "/%2F", "/%2f", "%2F%2F", "/%5C", "/%5c", "/\\/", "///", "/%2F%2F", "/.//", "/./\\", "/%09/", "/\t/", "/%20//"];
  const out: string[] = [];
  for (const lead of leads) {
    const p = lead.startsWith("/") ? lead : `/${lead}`;
    out.push(`${p}${host}/x`, `${p}${host}`, `${p}user:pass@${host}/x`, `${p}${host}%2Fx`, `${p}${host}?q=1`);
  }
  return out;
}

function sentAnywhereElse(): void {
  expect(evil.seen, "the evil origin saw a request").toEqual([]);
}

describe("the splitter forwards only to its configured origins", () => {
  it("paths that spell another host: answered by blue/green or refused, never sent elsewhere", async () => {
    for (const path of hijackPaths(evilHost)) {
      const before = blue.seen.length + green.seen.length;
      const r = await raw(splitter.port, rawRequest(path));
      expect([200, 400, 414], path).toContain(r.status);
      if (r.status === 200) {
        expect(r.head.toLowerCase(), path).toMatch(/x-origin: (blue|green)/);
        const rec = [...blue.seen, ...green.seen].slice(before)[0]!;
        // The origin got a path on itself: one leading slash, no backslash.
        expect(rec.url, path).toMatch(/^\/(?![/\\])/);
      }
    }
    sentAnywhereElse();
  });

  it("absolute-form request targets and a foreign Host header do not pick the destination", async () => {
    const replies = [
      await raw(splitter.port, rawRequest(`http://${evilHost}/x`)),
      await raw(splitter.port, rawRequest(`http://${evilHost}//${evilHost}/x`)),
      await raw(splitter.port, `GET /x HTTP/1.1\r\nHost: ${evilHost}\r\nConnection: close\r\n\r\n`),
      await raw(splitter.port, `GET //${evilHost}/x HTTP/1.1\r\nHost: ${evilHost}\r\nX-Forwarded-Host: ${evilHost}\r\nConnection: close\r\n\r\n`),
    ];
    for (const r of replies) expect(r.status).not.toBe(0);
    sentAnywhereElse();
  });

  it("property: for generated paths the origin's host is always a configured one", async () => {
    const seg = fc.constantFrom("a", "..", ".", "%2e%2e", "%2F", "%5C", "\\", "", evilHost, "%2F%2F" + evilHost, "x;y", "%00", "%C0%AE");
    await fc.assert(
      fc.asyncProperty(fc.array(seg, { minLength: 1, maxLength: 6 }), async (segs) => {
        const r = await raw(splitter.port, rawRequest(`/${segs.join("/")}`));
        expect(r.status).toBeGreaterThan(0);
      }),
      { numRuns: 60 },
    );
    sentAnywhereElse();
  });
});

describe("the gate forwards only to ORIGIN_URL (with its path prefix)", () => {
  it("paths that spell another host, with a valid token: the configured origin or a refusal", async () => {
    for (const path of hijackPaths(evilHost)) {
      const before = app.seen.length;
      const r = await raw(gate.port, rawRequest(path, { Authorization: `Bearer ${token}` }));
      expect([200, 400, 414], path).toContain(r.status);
      if (r.status === 200) {
        const rec = app.seen.slice(before)[0]!;
        expect(rec.url, path).toMatch(/^\/prefix\/(?![/\\])/);
      }
    }
    sentAnywhereElse();
  });

  it("absolute-form targets and foreign Host headers, public or authenticated", async () => {
    const auths: Record<string, string>[] = [{}, { Authorization: `Bearer ${token}` }];
    for (const auth of auths) {
      await raw(gate.port, rawRequest(`http://${evilHost}/public/x`, auth));
      await raw(gate.port, rawRequest(`http://${evilHost}/x`, auth));
      await raw(gate.port, `GET /public/x HTTP/1.1\r\nHost: ${evilHost}\r\nConnection: close\r\n\r\n`);
    }
    sentAnywhereElse();
  });
});
