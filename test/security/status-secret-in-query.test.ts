// Attack class: an endpoint secret carried in the URL, where access logs,
// browser history, bookmarks and Referer headers keep it (and where a
// "convenient" `?token=` tempts operators to paste it). The splitter's status
// page must never answer 200 to a secret in the query, under any parameter
// name, spelling, encoding or position, with or without a right header; such
// a request is refused with a message naming the header, and counts as a
// failed attempt. The secret is never echoed.
// Defence: workers/splitter/status.ts (Authorization: Bearer only;
// SECRET_QUERY_PARAM refused and counted by FAILED_STATUS_LIMITER).
import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DevServer } from "../node/helpers/wrangler-dev.ts";
import { raw, rawRequest, startControl, startOrigin, startSplitter, stateDir, type Origin, limiterWindowHeadroom } from "./helpers.ts";

// Each test counts failures up to the limit: never across a limiter window boundary.
beforeEach(() => limiterWindowHeadroom(), 70_000);

const SECRET = "status-secret-in-query-0123456789abcdefXYZ";
const LIMIT = 10; // wrangler.toml [[env.splitter.ratelimits]] simple.limit

let blue: Origin;
let green: Origin;
let splitter: DevServer;
let control: DevServer;
let state: Awaited<ReturnType<typeof stateDir>>;

beforeAll(async () => {
  blue = await startOrigin("blue");
  green = await startOrigin("green");
  state = await stateDir("status-query");
  splitter = await startSplitter(state.dir, blue.url, green.url, 0);
  control = await startControl(state.dir, { STATUS_SECRET: SECRET });
}, 180_000);

afterAll(async () => {
  await Promise.all([splitter?.stop(), control?.stop()]);
  await Promise.all([blue?.close(), green?.close()]);
  await state?.remove();
});

let n = 0;
const freshIp = () => `2001:db8:5eed:${(++n).toString(16)}::1`;
const ROUTES = ["/__edgekv/status", "/__edgekv/status/", "/__edgekv/status.json"];

/** Names a secret is commonly passed under, in any case, some percent-encoded. */
const secretName = fc
  .tuple(
    fc.constantFrom(
      "token",
      "access_token",
      "secret",
      "status_secret",
      "key",
      "apikey",
      "api_key",
      "auth",
      "authorization",
      "bearer",
      "password",
      "STATUS_SECRET",
    ),
    fc.nat(),
  )
  .map(([name, seed]) => {
    const cased = [...name].map((c, i) => ((seed >> (i % 16)) & 1 ? c.toUpperCase() : c)).join("");
    // Sometimes percent-encode the first letter: URLSearchParams decodes names too.
    return seed % 5 === 0 ? `%${cased.charCodeAt(0).toString(16)}${cased.slice(1)}` : cased;
  });

const secretValue = fc.constantFrom(SECRET, encodeURIComponent(SECRET), `Bearer%20${SECRET}`, SECRET.replace(/-/g, "%2D"));

const query = fc
  .tuple(secretName, secretValue, fc.array(fc.constantFrom("a=1", "x=", "v=2", "token=", "_=123"), { maxLength: 2 }), fc.nat(), fc.boolean())
  .map(([name, value, others, at, twice]) => {
    const parts: string[] = [...others];
    parts.splice(at % (parts.length + 1), 0, `${name}=${value}`);
    if (twice) parts.push(`${name}=${value}`);
    return `?${parts.join("&")}`;
  });

describe("the status secret is accepted in Authorization: Bearer only", () => {
  it("control: the header alone gets the status (so a refusal below is the query's doing)", async () => {
    for (const path of ROUTES) {
      const r = await raw(control.port, rawRequest(path, { Authorization: `Bearer ${SECRET}`, "CF-Connecting-IP": freshIp() }));
      expect(r.status, path).toBe(200);
    }
  });

  it("a secret in the query never gets a 200, with or without the right header; the answer names the header and never echoes the secret", async () => {
    await fc.assert(
      fc.asyncProperty(query, fc.constantFrom(...ROUTES), fc.boolean(), async (q, path, withHeader) => {
        const headers: Record<string, string> = { "CF-Connecting-IP": freshIp() };
        if (withHeader) headers.Authorization = `Bearer ${SECRET}`;
        const r = await raw(control.port, rawRequest(`${path}${q}`, headers));
        expect(r.status, `${path}${q}`).toBe(401);
        expect(r.body).toContain("Authorization: Bearer");
        expect(r.body).not.toContain(SECRET);
        expect(r.head).toMatch(/\r\nwww-authenticate: Bearer/i);
      }),
      { numRuns: 120 },
    );
  });

  it("other places in the URL do not work either: path segments, matrix parameters, a fragment-like suffix", async () => {
    for (const target of [
      `/__edgekv/status.json/${SECRET}`,
      `/__edgekv/status/${SECRET}`,
      `/__edgekv/status.json;token=${SECRET}`,
      `/__edgekv/status.json%3Ftoken=${SECRET}`,
      `/__edgekv/status.json?${SECRET}`,
      `/__edgekv/status.json?t=${SECRET}`,
    ]) {
      const r = await raw(control.port, rawRequest(target, { "CF-Connecting-IP": freshIp() }));
      expect(r.status, target).not.toBe(200);
      expect([400, 401, 404], target).toContain(r.status);
      expect(r.body).not.toContain(SECRET);
    }
  });

  it("each query-secret attempt counts as a failure: after the limit, even the right header is 429", async () => {
    const ip = freshIp();
    const seq: number[] = [];
    for (let i = 0; i < LIMIT + 1; i++)
      seq.push((await raw(control.port, rawRequest(`/__edgekv/status.json?token=${SECRET}`, { "CF-Connecting-IP": ip }))).status);
    expect(seq).toEqual([...Array(LIMIT).fill(401), 429]);
    const r = await raw(control.port, rawRequest("/__edgekv/status.json", { Authorization: `Bearer ${SECRET}`, "CF-Connecting-IP": ip }));
    expect(r.status).toBe(429);
    expect(
      blue.seen
        .concat(green.seen)
        .filter((s) => s.url.includes("__edgekv/status"))
        .map((s) => s.url),
    ).toEqual([]);
  });
});
