// Attack class: the gate decides on one path and the origin acts on another.
// Dot segments (raw, encoded, overlong, fullwidth), `;` path parameters
// (Tomcat/Jetty/Spring read `/public/..;/admin` as `/admin`, CVE-2020-1957),
// repeated slashes, backslashes and double encoding. Property: for generated
// paths, every request the origin receives, read the way any common origin
// stack reads it (test/security/helpers.ts `originReadings`), is a path the gate
// allowed: under PUBLIC_PATHS without a token, under the token's scope with one.
// Defence: shared/http/path.ts, used by all three Workers.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevServer } from "../node/helpers/wrangler-dev.ts";
import { issueToken, originReadings, raw, rawRequest, startGate, startOrigin, stateDir, type Origin } from "./helpers.ts";

let app: Origin;
let strict: DevServer;
let matrix: DevServer;
let state: Awaited<ReturnType<typeof stateDir>>;
let apiToken: string;

beforeAll(async () => {
  app = await startOrigin("app");
  state = await stateDir("paths");
  apiToken = await issueToken(state.dir, ["--user", "bob", "--scope", "*:/api/*"]);
  // One after the other: two workerd creating the same local state at once can hit SQLITE_BUSY.
  strict = await startGate(state.dir, app.url, { PUBLIC_PATHS: "/public/*" });
  matrix = await startGate(state.dir, app.url, { PUBLIC_PATHS: "/public/*", ALLOW_PATH_PARAMS: "true" });
}, 180_000);

afterAll(async () => {
  await Promise.all([strict?.stop(), matrix?.stop()]);
  await app?.close();
  await state?.remove();
});

const SEGMENTS = [
  "public",
  "api",
  "admin",
  "x",
  "..",
  ".",
  "",
  "%2e%2e",
  "%2E%2e",
  ".%2e",
  "%2e",
  "..;",
  "..;x",
  ";",
  ";x",
  "public;x",
  "api;jsessionid=1",
  "%3B",
  "..%3B",
  "%2e%2e%3b",
  "%2F",
  "%2f..",
  "%5C",
  "\\",
  "..\\",
  "%5c..",
  "%252e%252e",
  "%252F",
  "%25",
  "%2541",
  "%C0%AE%C0%AE",
  "%EF%BC%8E%EF%BC%8E",
  "%EF%BC%8F",
  "admin%00",
  "%09",
  "a%20b",
  "%ff",
  "%",
];
const segment = fc.constantFrom(...SEGMENTS);
const pathArb = fc.array(segment, { minLength: 1, maxLength: 6 }).map((s) => `/${s.join("/")}`);
const withPrefix = fc.tuple(fc.constantFrom("/public/", "/api/", "/", "/public//", "/public/./"), pathArb).map(([a, b]) => a + b.slice(1));

/** Sends `path` and returns what the origin received for it (undefined if nothing). */
async function send(dev: DevServer, path: string, headers: Record<string, string> = {}): Promise<string | undefined> {
  const before = app.seen.length;
  const r = await raw(dev.port, rawRequest(path, headers));
  expect(r.status, path).toBeGreaterThan(0);
  const got = app.seen.slice(before);
  expect(got.length, path).toBeLessThanOrEqual(1);
  if (got.length) expect(r.status, path).toBe(200);
  return got[0]?.url;
}

function assertInside(received: string, allowed: RegExp, sent: string): void {
  for (const reading of originReadings(received)) expect(reading, `sent ${sent}, origin got ${received}`).toMatch(allowed);
}

describe("every origin reading of a forwarded path is one the gate allowed", () => {
  it("no token: only /public/* ever reaches the origin (default policy: ; refused)", async () => {
    await fc.assert(
      fc.asyncProperty(withPrefix, async (path) => {
        const got = await send(strict, path);
        if (got !== undefined) assertInside(got, /^\/public\//, path);
      }),
      { numRuns: 250 },
    );
  });

  it("a token scoped to /api/*: nothing outside /api/ reaches the origin", async () => {
    await fc.assert(
      fc.asyncProperty(withPrefix, async (path) => {
        const got = await send(strict, path, { Authorization: `Bearer ${apiToken}` });
        if (got !== undefined) assertInside(got, /^\/(api|public)\//, path);
      }),
      { numRuns: 250 },
    );
  });

  it("with ALLOW_PATH_PARAMS=true, matrix parameters pass but never on an empty or dot segment", async () => {
    await fc.assert(
      fc.asyncProperty(withPrefix, async (path) => {
        const got = await send(matrix, path);
        if (got !== undefined) assertInside(got, /^\/public\//, path);
      }),
      { numRuns: 250 },
    );
    expect(await send(matrix, "/public/app;jsessionid=abc")).toBe("/public/app;jsessionid=abc");
    for (const p of ["/public/..;/admin", "/public/%2e%2e;/admin", "/public/.;/admin", "/public/;/admin", "/public/%3B/admin", "/public/..%3Bx/admin"]) {
      expect(await send(matrix, p), p).toBeUndefined();
    }
  });

  it("the default refuses every ; (encoded or not) with a 400 and forwards nothing", async () => {
    for (const p of ["/public/a;b", "/public/a%3Bb", "/public/..;/admin", "/public/app;jsessionid=1"]) {
      const before = app.seen.length;
      const r = await raw(strict.port, rawRequest(p));
      expect(r.status, p).toBe(400);
      expect(app.seen.length).toBe(before);
    }
  });

  it("the origin receives the canonical form of the decided path, and exactly one request per allow", async () => {
    const cases: [string, string][] = [
      ["/public//a///b", "/public/a/b"],
      ["/public/%61%62", "/public/ab"],
      ["/public/a%20b", "/public/a%20b"],
      ["/public/x/../y", "/public/y"],
      ["/public/\\y", "/public/y"],
      ["/public/%7Euser", "/public/~user"],
      ["/public/caf%C3%A9?q=%2F", "/public/caf%C3%A9?q=%2F"],
    ];
    for (const [sent, expected] of cases) expect(await send(strict, sent), sent).toBe(expected);
  });
});
