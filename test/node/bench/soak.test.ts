// The pure parts of `npm run soak`: which responses an injected fault explains,
// which are unexplained, and which are wrong decisions.
import { describe, expect, it } from "vitest";
import { classify, colourFlips, explains, originViolations, siteViolations, type FaultWindow } from "../../../scripts/soak/classify.ts";

const kvDown: FaultWindow = { name: "kv-down", start: 1000, end: 2000 };
const originDown: FaultWindow = { name: "origin-down", start: 5000, end: 6000 };
const opts = { graceMs: 500 };

describe("classify", () => {
  it("expected statuses are ok, whatever the faults", () => {
    expect(classify({ kind: "site", start: 0, end: 1, status: 304 }, [], opts)).toEqual({ class: "ok" });
    expect(classify({ kind: "gate-malformed", start: 0, end: 1, status: 429 }, [], opts)).toEqual({ class: "ok" });
  });

  it("a 503 from the site or the gate during (or just after) a KV outage is explained", () => {
    expect(classify({ kind: "site", start: 1500, end: 1600, status: 503, errorCode: "kv_unavailable" }, [kvDown], opts)).toEqual({
      class: "explained",
      by: "kv-down",
    });
    expect(classify({ kind: "gate-valid", start: 2400, end: 2450, status: 503 }, [kvDown], opts)).toEqual({ class: "explained", by: "kv-down" });
    expect(classify({ kind: "site", start: 2600, end: 2700, status: 503 }, [kvDown], opts).class).toBe("unexplained");
  });

  it("the splitter keeps its last good config when KV fails, so its 5xx are not explained by it", () => {
    expect(classify({ kind: "splitter", start: 1500, end: 1600, status: 503 }, [kvDown], opts)).toEqual({ class: "unexplained", why: "splitter: 503" });
  });

  it("502/504 on proxied traffic are explained only by an origin fault of the matching kind", () => {
    expect(classify({ kind: "splitter", start: 5500, end: 5600, status: 502 }, [originDown], opts).class).toBe("explained");
    expect(classify({ kind: "splitter", start: 5500, end: 5600, status: 504 }, [originDown], opts).class).toBe("unexplained");
    expect(classify({ kind: "site", start: 5500, end: 5600, status: 502 }, [originDown], opts).class).toBe("unexplained");
    expect(explains("origin-slow", "gate-valid", 504)).toBe(true);
    expect(explains("bad-config", "splitter", 503)).toBe(false);
    expect(explains("site-deploy", "site", 503)).toBe(false);
  });

  it("a network error is unexplained", () => {
    expect(classify({ kind: "site", start: 1500, end: 1600, status: 0, errorCode: "TimeoutError" }, [kvDown], opts)).toEqual({
      class: "unexplained",
      why: "site: no response",
    });
  });

  it("a bad token let through is a wrong decision; a revoked one only after the revocation bound", () => {
    expect(classify({ kind: "gate-expired", start: 0, end: 1, status: 200 }, [], opts)).toEqual({ class: "wrong", why: "gate-expired request allowed (200)" });
    expect(classify({ kind: "gate-none", start: 0, end: 1, status: 204 }, [], opts).class).toBe("wrong");
    const revoked = { revokedAt: 10_000, revocationBoundMs: 12_000, graceMs: 0 };
    expect(classify({ kind: "gate-revoked", start: 21_000, end: 21_010, status: 200 }, [], revoked)).toEqual({ class: "ok" });
    expect(classify({ kind: "gate-revoked", start: 22_001, end: 22_010, status: 200 }, [], revoked).class).toBe("wrong");
    expect(classify({ kind: "gate-revoked", start: 22_001, end: 22_010, status: 401 }, [], revoked).class).toBe("ok");
  });
});

describe("wrong decisions", () => {
  it("a refused kind reaching an origin, or an allowed one without its identity", () => {
    expect(
      originViolations(
        [
          { kind: "splitter", user: undefined },
          { kind: "gate-valid", user: "soak" },
          { kind: "gate-revoked", user: "soak-revoked" },
          { kind: "gate-malformed", user: undefined },
          { kind: "gate-valid", user: undefined },
        ],
        "soak",
      ),
    ).toEqual(["gate-malformed request reached an origin", "gate-valid request reached an origin as user (none)"]);
  });

  it("a colour flip is the same user, the same config version and another colour (failover excepted)", () => {
    const seen = [
      { user: "u1", version: "1", color: "blue", reason: "bucket" },
      { user: "u1", version: "2", color: "green", reason: "bucket" },
      { user: "u1", version: "2", color: "blue", reason: "failover" },
      { user: "u2", version: "2", color: "blue", reason: "bucket" },
      { user: "u2", version: "2", color: "green", reason: "bucket" },
    ];
    expect(colourFlips(seen)).toEqual(["u2 flipped blue -> green at config version 2"]);
  });

  it("site: one ETag per (version, path), and an identity body hashes to its ETag", () => {
    const h = "a".repeat(64);
    const other = "b".repeat(64);
    expect(
      siteViolations([
        { version: "v1", path: "/", etag: `"${h}"`, bodySha: h },
        { version: "v1", path: "/", etag: `"${h}-br"`, bodySha: h },
      ]),
    ).toEqual([`/ has two ETags in version v1: "${h}" and "${h}-br"`]);
    expect(siteViolations([{ version: "v2", path: "/x", etag: `"${h}"`, bodySha: other }])).toEqual(["/x (version v2): body does not match its ETag"]);
    expect(
      siteViolations([
        { version: "v2", path: "/x", etag: `"${h}-gz"`, bodySha: h },
        { version: "v3", path: "/x", etag: `"${other}"` },
      ]),
    ).toEqual([]);
  });
});
