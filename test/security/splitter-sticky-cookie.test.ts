// Attack class (issue 20, class 8): a garbled sticky cookie reshuffles the
// visitor. A sibling subdomain (or any script that can write a cookie for the
// parent domain) plants `edgekv_id=x` before the visitor's own id; before, the
// splitter read only the first value, minted a new id on every request, flapped
// the visitor between colours, and sent the origin every copy of the cookie.
// And a response whose colour was chosen by a cookie or header must say so
// (Vary), or a shared cache serves one visitor's colour to another.
// The real splitter under `wrangler dev` at 50%, in front of two echo origins.
// Defence: workers/splitter/sticky.ts, origin.ts, handler.ts (docs/splitter.md "Sticky ids").
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevServer } from "../node/helpers/wrangler-dev.ts";
import { raw, startOrigin, startSplitter, stateDir, type Origin } from "./helpers.ts";

let state: Awaited<ReturnType<typeof stateDir>>;
let blue: Origin;
let green: Origin;
let splitter: DevServer;

beforeAll(async () => {
  state = await stateDir("sticky");
  blue = await startOrigin("blue");
  green = await startOrigin("green");
  splitter = await startSplitter(state.dir, blue.url, green.url, 50);
}, 180_000);

afterAll(async () => {
  await splitter?.stop();
  await Promise.all([blue?.close(), green?.close()]);
  await state?.remove();
});

interface Answer {
  bucket: string | null;
  color: string | null;
  setCookie: string | null;
  vary: string | null;
  /** The Cookie header the origin received. */
  originCookie: string | undefined;
}

async function get(cookie: string): Promise<Answer> {
  const res = await fetch(`${splitter.url}/page`, { headers: { cookie } });
  const echo = (await res.json()) as { headers: Record<string, string> };
  return {
    bucket: res.headers.get("x-edgekv-bucket"),
    color: res.headers.get("x-edgekv-color"),
    setCookie: res.headers.get("set-cookie"),
    vary: res.headers.get("vary"),
    originCookie: echo.headers.cookie,
  };
}

/** The pairs named exactly `edgekv_id` (cookie names are case-sensitive). */
const stickyPairs = (cookie: string | undefined) => (cookie ?? "").split(";").filter((p) => p.trim().startsWith("edgekv_id="));

const ID = "Visitor_Own-Id-0001";
const PLANTED = "Planted_Id-000000002";
const PAYLOADS: [what: string, cookie: string][] = [
  ["an invalid id first", `edgekv_id=x; edgekv_id=${ID}`],
  ["an empty value first", `edgekv_id=; edgekv_id=${ID}`],
  ["an over-long id first", `edgekv_id=${"A".repeat(200)}; other=1; edgekv_id=${ID}`],
  ["markup first", `edgekv_id=<script>alert(1)</script>; edgekv_id=${ID}`],
  ["the id quoted", `edgekv_id="${ID}"`],
  ["a quoted junk value first", `edgekv_id="junk"; edgekv_id=${ID}`],
  ["the valid id three times", `edgekv_id=${ID}; edgekv_id=${ID}; edgekv_id=${ID}`],
  ["the id, then another valid id", `edgekv_id=${ID}; edgekv_id=${PLANTED}`],
  ["whitespace around name and value", `  edgekv_id  =  ${ID}  ;session=s`],
  ["names differing by case", `EDGEKV_ID=${PLANTED}; Edgekv_Id=junk; edgekv_id=${ID}`],
  ["a value with a space first", `edgekv_id=a b c d e f g h; edgekv_id=${ID}`],
];

describe("a garbled or doubled sticky cookie does not reshuffle the visitor", () => {
  it.each(PAYLOADS)("%s: one bucket and colour over repeated requests, no new id, one sticky pair to the origin", async (_what, cookie) => {
    const reference = await get(`edgekv_id=${ID}`);
    for (let i = 0; i < 10; i++) {
      const a = await get(cookie);
      expect([a.bucket, a.color, a.setCookie]).toEqual([reference.bucket, reference.color, null]);
      expect(stickyPairs(a.originCookie).map((p) => p.trim())).toEqual([`edgekv_id=${ID}`]);
    }
  });

  it("other cookies reach the origin untouched, names of another case included", async () => {
    const a = await get(`a=1; edgekv_id=x; EDGEKV_ID=${PLANTED}; session="v=1"; edgekv_id=${ID}`);
    expect(a.originCookie).toBe(`a=1; EDGEKV_ID=${PLANTED}; session="v=1"; edgekv_id=${ID}`);
  });

  it("a planted valid id sent first is used consistently (never a flap), and the origin sees only it", async () => {
    const planted = await get(`edgekv_id=${PLANTED}`);
    for (let i = 0; i < 10; i++) {
      const a = await get(`edgekv_id=${PLANTED}; edgekv_id=${ID}`);
      expect([a.bucket, a.color, a.setCookie]).toEqual([planted.bucket, planted.color, null]);
      expect(stickyPairs(a.originCookie).map((p) => p.trim())).toEqual([`edgekv_id=${PLANTED}`]);
    }
  });

  it("only garbage: one new id is set, and the origin sees that one alone", async () => {
    for (const cookie of ["edgekv_id=x", `edgekv_id=; edgekv_id=${"A".repeat(200)}`, 'edgekv_id="a"; s=1']) {
      const a = await get(cookie);
      const minted = /^edgekv_id=([\w-]{22});/.exec(a.setCookie ?? "")?.[1];
      expect(minted, cookie).toBeDefined();
      expect(stickyPairs(a.originCookie).map((p) => p.trim())).toEqual([`edgekv_id=${minted}`]);
    }
  });
});

describe('two Cookie header lines (raw HTTP; the runtime joins them with ", ")', () => {
  it.each([
    ["edgekv_id=x", `edgekv_id=${ID}; a=1`],
    [`edgekv_id=${ID}`, "edgekv_id="],
    ["a=1", `edgekv_id=${ID}`],
  ])("%s / %s: the visitor's bucket, no new id, one sticky pair to the origin", async (first, second) => {
    const reference = await get(`edgekv_id=${ID}`);
    for (let i = 0; i < 3; i++) {
      const r = await raw(splitter.port, `GET /page HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${first}\r\nCookie: ${second}\r\nConnection: close\r\n\r\n`);
      expect(r.status).toBe(200);
      expect(/^x-edgekv-bucket: (\d+)$/im.exec(r.head)?.[1]).toBe(reference.bucket);
      expect(r.head).not.toMatch(/^set-cookie:/im);
      // The echo origin's JSON body (chunked or not): the Cookie it received.
      const cookie = /"cookie":"([^"]*)"/.exec(r.body)?.[1];
      expect(cookie?.match(/edgekv_id=/g)).toHaveLength(1);
      expect(cookie).toContain(`edgekv_id=${ID}`);
    }
  });
});

describe("Vary", () => {
  it("every answer says its colour depends on Cookie", async () => {
    for (const cookie of ["", `edgekv_id=${ID}`, "edgekv_id=x"]) expect((await get(cookie)).vary).toMatch(/(^|,\s*)Cookie(\s*,|$)/);
  });
});
