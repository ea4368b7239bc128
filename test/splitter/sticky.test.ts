/**
 * Issue 20, class 8: a sticky id the client garbles (or a sibling subdomain
 * plants) does not reshuffle the visitor, the origin sees exactly one sticky
 * pair, and every response says (Vary) what chose its colour. Through
 * handle() with the real local KV.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { handle, type Deps } from "../../workers/splitter/handler.ts";
import { CONFIG_KEY, type RolloutConfigInput } from "../../workers/splitter/model.ts";
import { signOverride } from "../../workers/splitter/override.ts";
import { ConfigSource } from "../../workers/splitter/store.ts";
import { cookieId } from "../../workers/splitter/sticky.ts";
import { cfg, origins } from "./helpers.ts";

const write = (c: RolloutConfigInput) => env.ROLLOUT_KV.put(CONFIG_KEY, JSON.stringify(c));
const OV = "override-secret-for-tests-0123456789";

function setup(extraEnv: Partial<Deps["env"]> = {}, behave?: Parameters<typeof origins>[0]) {
  const o = origins(behave);
  const deps: Deps = {
    env: { ROLLOUT_KV: env.ROLLOUT_KV, ...extraEnv },
    source: new ConfigSource(env.ROLLOUT_KV, { ttlMs: 60_000 }),
    fetch: o.fetch,
    now: Date.now,
  };
  const send = async (headers: Record<string, string> = {}, path = "/page") => {
    const res = await handle(new Request(`https://app.test${path}`, { headers }), deps);
    await res.text();
    return res;
  };
  return { ...o, send };
}

beforeEach(async () => {
  await env.ROLLOUT_KV.delete(CONFIG_KEY);
});

const VALID = "visitor-1-abcdef";
const OTHER = "planted-id-0000";
const LONG = "a".repeat(129);

describe("cookieId: the first valid sticky id", () => {
  it.each([
    [`edgekv_id=x; edgekv_id=${VALID}`, VALID],
    [`edgekv_id=; edgekv_id=${VALID}`, VALID],
    [`edgekv_id=${LONG}; edgekv_id=${VALID}`, VALID],
    [`edgekv_id="${VALID}"`, VALID],
    [`edgekv_id="x"; edgekv_id=${VALID}`, VALID],
    [`edgekv_id=${VALID}; edgekv_id=${OTHER}`, VALID],
    [`edgekv_id=${OTHER}; edgekv_id=${VALID}`, OTHER],
    [`  edgekv_id =  ${VALID}  ; a=1`, VALID],
    [`edgekv_id=abc def ghi jk; edgekv_id=${VALID}`, VALID],
    [`EDGEKV_ID=${OTHER}; Edgekv_Id=${OTHER}; edgekv_id=${VALID}`, VALID],
    [`edgekv_id=${"<script>"}; edgekv_id=%41%41%41%41%41%41%41%41`, undefined],
    ["edgekv_id", undefined],
    [`edgekv_idx=${OTHER}; xedgekv_id=${OTHER}`, undefined],
    ['edgekv_id="', undefined],
  ])("%s -> %s", (header, id) => {
    expect(cookieId(header, "edgekv_id")).toBe(id);
  });
});

/** Garbled Cookie headers a visitor with the valid id VALID may send, every time. */
const GARBLED = [
  `edgekv_id=x; edgekv_id=${VALID}`,
  `edgekv_id=; edgekv_id=${VALID}`,
  `edgekv_id=${LONG}; a=1; edgekv_id=${VALID}`,
  `edgekv_id="${VALID}"`,
  `edgekv_id=${VALID}; edgekv_id=${VALID}; edgekv_id=${VALID}`,
  `edgekv_id=${VALID}; edgekv_id=${OTHER}`,
  ` edgekv_id = ${VALID} ;session=s`,
  `EDGEKV_ID=${OTHER}; edgekv_id=${VALID}; Edgekv_Id=zz`,
  `edgekv_id=a b; edgekv_id=${VALID}`,
];

describe("a garbled or doubled sticky cookie", () => {
  it.each(GARBLED)("%s: the same colour and bucket on every request, no new id minted, one sticky pair to the origin", async (cookie) => {
    await write(cfg({ percent: 50 }));
    const t = setup();
    const reference = await t.send({ cookie: `edgekv_id=${VALID}` });
    const runs = [];
    for (let i = 0; i < 8; i++) runs.push(await t.send({ cookie }));
    for (const r of runs) {
      expect(r.headers.get("x-edgekv-bucket")).toBe(reference.headers.get("x-edgekv-bucket"));
      expect(r.headers.get("x-edgekv-color")).toBe(reference.headers.get("x-edgekv-color"));
      expect(r.headers.get("set-cookie")).toBeNull();
    }
    for (const s of t.seen.slice(1)) {
      const got = s.headers.cookie ?? "";
      // Exactly one pair named edgekv_id (names are case-sensitive), and it is the id used.
      expect(got.split(";").filter((p) => p.trim().startsWith("edgekv_id="))).toEqual([expect.stringMatching(new RegExp(`^ ?edgekv_id=${VALID}$`))]);
    }
  });

  it("other cookies pass untouched, in order, names of another case included", async () => {
    await write(cfg({ percent: 50 }));
    const t = setup();
    await t.send({ cookie: `a=1; edgekv_id=x; EDGEKV_ID=${OTHER}; b="two"; edgekv_id=${VALID}; c=` });
    expect(t.seen[0]!.headers.cookie).toBe(`a=1; EDGEKV_ID=${OTHER}; b="two"; c=; edgekv_id=${VALID}`);
  });

  it('two Cookie header lines (joined with ", "): the valid id in the second is found, one pair forwarded', async () => {
    await write(cfg({ percent: 50 }));
    const t = setup();
    const reference = await t.send({ cookie: `edgekv_id=${VALID}` });
    for (const lines of [
      ["edgekv_id=x", `edgekv_id=${VALID}; a=1`],
      [`edgekv_id=${VALID}`, "edgekv_id=x"],
      ["a=1", `edgekv_id=${VALID}`],
    ]) {
      const res = await handle(new Request("https://app.test/page", { headers: lines.map((v) => ["cookie", v]) }), {
        env: { ROLLOUT_KV: env.ROLLOUT_KV },
        source: new ConfigSource(env.ROLLOUT_KV, { ttlMs: 60_000 }),
        fetch: t.fetch,
        now: Date.now,
      });
      await res.text();
      expect([res.headers.get("x-edgekv-bucket"), res.headers.get("set-cookie")]).toEqual([reference.headers.get("x-edgekv-bucket"), null]);
      expect(t.seen.at(-1)!.headers.cookie!.match(/edgekv_id=/g)).toHaveLength(1);
      expect(t.seen.at(-1)!.headers.cookie).toContain(`edgekv_id=${VALID}`);
    }
  });

  it("only garbage: a new id is minted, set, and is the only sticky pair the origin sees", async () => {
    await write(cfg({ percent: 50 }));
    const t = setup();
    for (const cookie of ["edgekv_id=x", `edgekv_id=; edgekv_id=${LONG}`, 'edgekv_id="a"; s=1']) {
      const res = await t.send({ cookie });
      const minted = /^edgekv_id=([\w-]{22});/.exec(res.headers.get("set-cookie") ?? "")?.[1];
      expect(minted).toBeDefined();
      const seen = t.seen.at(-1)!.headers.cookie!;
      expect(seen.match(/(^|;\s*)edgekv_id=/g)).toHaveLength(1);
      expect(seen).toContain(`edgekv_id=${minted}`);
    }
  });

  it("a sibling subdomain's planted valid id, sent first, is stable too (first valid wins; never a flap)", async () => {
    await write(cfg({ percent: 50 }));
    const t = setup();
    const planted = await t.send({ cookie: `edgekv_id=${OTHER}` });
    for (let i = 0; i < 5; i++) {
      const r = await t.send({ cookie: `edgekv_id=${OTHER}; edgekv_id=${VALID}` });
      expect(r.headers.get("x-edgekv-bucket")).toBe(planted.headers.get("x-edgekv-bucket"));
    }
  });

  it("header stickiness: the cookie is only the fallback, and still forwarded as one pair", async () => {
    await write(cfg({ percent: 50, sticky: { by: "header", header: "x-user-id" } }));
    const t = setup();
    await t.send({ "x-user-id": "u1", cookie: `edgekv_id=x; edgekv_id=${VALID}; edgekv_id=${OTHER}` });
    await t.send({ "x-user-id": "u1", cookie: "edgekv_id=x" });
    expect(t.seen.map((s) => s.headers.cookie)).toEqual([`edgekv_id=${VALID}`, undefined]);
  });
});

describe("Vary: a shared cache never serves one colour to another visitor", () => {
  it("appends Cookie to the origin's Vary, without duplicating it", async () => {
    await write(cfg({ percent: 50 }));
    for (const [origin, expected] of [
      [undefined, "Cookie"],
      ["Accept-Encoding", "Accept-Encoding, Cookie"],
      ["accept-encoding, cookie", "accept-encoding, cookie"],
      ["Cookie, Origin", "Cookie, Origin"],
      ["*", "*"],
    ] as const) {
      const t = setup({}, () => new Response("x", { headers: origin ? { vary: origin } : {} }));
      const res = await t.send({ cookie: `edgekv_id=${VALID}` });
      expect(res.headers.get("vary"), String(origin)).toBe(expected);
    }
  });

  it("names the sticky header, the override header (when overrides are on) and rule headers", async () => {
    await write(
      cfg({
        percent: 50,
        sticky: { by: "header", header: "x-user-id" },
        overrides: { header: "x-tester" },
        rules: [{ match: { header: { name: "x-beta", value: "1" } }, to: "green" }],
      }),
    );
    expect((await setup().send({ "x-user-id": "u1" })).headers.get("vary")).toBe("Cookie, x-user-id, x-beta");
    expect((await setup({ OVERRIDE_SECRET: OV }).send({ "x-user-id": "u1" })).headers.get("vary")).toBe("Cookie, x-user-id, x-tester, x-beta");
  });

  it("on every forwarded answer: minted ids, overrides, failover, origin errors", async () => {
    await write(cfg({ percent: 50, failover: true }));
    const override = await signOverride(OV, "green", Math.floor(Date.now() / 1000) + 3600);
    const responses = [
      await setup().send(),
      await setup({ OVERRIDE_SECRET: OV }).send({ cookie: `edgekv_override=${override}` }),
      await setup({}, () => new Response("down", { status: 503 })).send(),
      await setup({}, () => Promise.reject(new Error("refused"))).send(),
    ];
    for (const r of responses) expect(r.headers.get("vary")).toMatch(/(^|, )Cookie(,|$)/);
  });
});
