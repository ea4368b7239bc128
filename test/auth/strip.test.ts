import { describe, expect, it } from "vitest";
import { STRIPPED_HEADERS, STRIPPED_PREFIXES, isStripped } from "../../workers/auth/strip.ts";

describe("strip.ts: headers a client may not send through the gate", () => {
  it("every listed name and prefix, in any case and with _ for -", () => {
    const names = [...STRIPPED_HEADERS, ...STRIPPED_PREFIXES.map((p) => `${p}anything`)];
    for (const name of names) {
      for (const spelled of [name, name.toUpperCase(), name.replace(/-/g, "_")]) {
        const h = new Headers({ [spelled]: "spoofed", "x-app": "kept" });
        expect(
          [...h.keys()].filter((n) => !isStripped(n, new Set())),
          spelled,
        ).toEqual(["x-app"]);
      }
    }
  });

  it("operator-added names (IDENTITY_HEADERS) too, and nothing else", () => {
    expect(isStripped("x-tenant", new Set(["x-tenant"]))).toBe(true);
    expect(isStripped("x_tenant", new Set(["x-tenant"]))).toBe(true);
    for (const ok of ["accept", "content-type", "cookie", "x-request-id", "user-agent", "x-forwarded-users-count"])
      expect(isStripped(ok, new Set()), ok).toBe(false);
  });
});
