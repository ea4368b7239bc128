// The failed-attempt limiter's client key (shared/http/limiter.ts), in workerd.
// The limiter itself, over the real local Rate Limiting binding, is tested in
// test/auth/worker.test.ts and test/splitter/worker.test.ts (the lib project binds none).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bearerSecret } from "../../shared/http/bearer.ts";
import { BAD_IP_KEY, MAX_IP_HEADER_LENGTH, NO_IP_PREFIX, clientKey, ipKey } from "../../shared/http/limiter.ts";
import { MIN_SECRET_BYTES, generateHint, secretState, weakSecretError } from "../../shared/http/secrets.ts";

const hextet = fc.integer({ min: 0, max: 0xffff });
const hextets = (n: number) => fc.array(hextet, { minLength: n, maxLength: n });

/** One of the many text forms of 8 hextets: case, leading zeros, any zero run as "::", brackets, zone id. */
const textForm = (h: number[], decorate = true) =>
  fc
    .record({
      upper: fc.boolean(),
      pad: fc.boolean(),
      compress: fc.nat(),
      bracket: decorate ? fc.boolean() : fc.constant(false),
      zone: decorate ? fc.option(fc.constantFrom("eth0", "1", "en0.2"), { nil: undefined }) : fc.constant(undefined),
    })
    .map((o) => {
      const parts = h.map((x) => {
        const s = o.pad ? x.toString(16).padStart(4, "0") : x.toString(16);
        return o.upper ? s.toUpperCase() : s;
      });
      // Every run of zero hextets is a candidate for "::"; pick one (or none).
      const runs: [number, number][] = [];
      for (let i = 0; i < 8; i++) {
        if (h[i] !== 0) continue;
        let j = i;
        while (j < 8 && h[j] === 0) j++;
        for (let a = i; a < j; a++) for (let b = a + 1; b <= j; b++) runs.push([a, b]);
        i = j;
      }
      let text = parts.join(":");
      const pick = runs.length ? o.compress % (runs.length + 1) : 0;
      if (pick > 0) {
        const [a, b] = runs[pick - 1]!;
        text = `${parts.slice(0, a).join(":")}::${parts.slice(b).join(":")}`;
      }
      if (o.zone && !o.bracket) text += `%${o.zone}`;
      return o.bracket ? `[${text}]` : text;
    });

const key64 = (h: number[]) =>
  `ip6:${h
    .slice(0, 4)
    .map((x) => x.toString(16))
    .join(":")}`;
const isMapped = (h: number[]) => h.slice(0, 5).every((x) => x === 0) && h[5] === 0xffff;

describe("ipKey: one key per IPv4 address or IPv6 /64", () => {
  it("examples", () => {
    expect(ipKey("203.0.113.7")).toBe("ip4:203.0.113.7");
    expect(ipKey("2001:db8:1:2:aaaa::1")).toBe("ip6:2001:db8:1:2");
    expect(ipKey("2001:0DB8:0001:0002:ffff:ffff:ffff:ffff")).toBe("ip6:2001:db8:1:2");
    expect(ipKey("::")).toBe("ip6:0:0:0:0");
    expect(ipKey("::1")).toBe("ip6:0:0:0:0");
    expect(ipKey("2001:db8::")).toBe("ip6:2001:db8:0:0");
    expect(ipKey("[2001:db8::5]")).toBe("ip6:2001:db8:0:0");
    expect(ipKey("fe80::1%eth0")).toBe("ip6:fe80:0:0:0");
    expect(ipKey("::ffff:192.0.2.1")).toBe("ip4:192.0.2.1");
    expect(ipKey("::FFFF:c000:0201")).toBe("ip4:192.0.2.1");
    expect(ipKey("0:0:0:0:0:ffff:192.0.2.1")).toBe("ip4:192.0.2.1");
    expect(ipKey("64:ff9b::192.0.2.1")).toBe("ip6:64:ff9b:0:0");
    expect(ipKey("::1:ffff:c000:201")).toBe("ip6:0:0:0:0"); // not ::ffff:0:0/96
    expect(ipKey("::ffff:0:c000:201")).toBe("ip6:0:0:0:0"); // IPv4-translated, not mapped
    expect(ipKey("1:2:3:4:5:6:1.2.3.4")).toBe("ip6:1:2:3:4");
  });

  it("any two addresses in one /64, in any text form, give the same key", () => {
    fc.assert(
      fc.property(
        hextets(4).chain((prefix) =>
          fc.tuple(fc.constant(prefix), hextets(4), hextets(4)).chain(([p, a, b]) => {
            const x = [...p, ...a];
            const y = [...p, ...b];
            return fc.tuple(fc.constant(x), fc.constant(y), textForm(x), textForm(y));
          }),
        ),
        ([x, y, tx, ty]) => {
          fc.pre(!isMapped(x) && !isMapped(y));
          expect(ipKey(tx)).toBe(key64(x));
          expect(ipKey(ty)).toBe(ipKey(tx));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("addresses in different /64s give different keys", () => {
    fc.assert(
      fc.property(hextets(8), hextets(8), (x, y) => {
        fc.pre(x.slice(0, 4).join() !== y.slice(0, 4).join() && !isMapped(x) && !isMapped(y));
        expect(ipKey(x.map((v) => v.toString(16)).join(":"))).not.toBe(ipKey(y.map((v) => v.toString(16)).join(":")));
      }),
      { numRuns: 500 },
    );
  });

  it("an IPv4-mapped IPv6 address (any form) is the IPv4 address; distinct IPv4s stay distinct", () => {
    const quad = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 });
    fc.assert(
      fc.property(quad, quad, (q, r) => {
        const v4 = q.join(".");
        const mapped = [0, 0, 0, 0, 0, 0xffff, (q[0]! << 8) | q[1]!, (q[2]! << 8) | q[3]!];
        for (const form of [`::ffff:${v4}`, `::FFFF:${v4}`, `0:0:0:0:0:ffff:${v4}`, `[::ffff:${v4}]`, mapped.map((v) => v.toString(16)).join(":")]) {
          expect(ipKey(form), form).toBe(`ip4:${v4}`);
        }
        expect(ipKey(v4)).toBe(`ip4:${v4}`);
        if (r.join(".") !== v4) expect(ipKey(r.join("."))).not.toBe(ipKey(v4));
      }),
      { numRuns: 300 },
    );
  });

  it("agrees with the URL parser on what is an IPv6 address, for generated near-addresses", () => {
    // Strings from the characters of addresses: most are junk, some valid; the WHATWG parser is the reference.
    const random = fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEF:.:"), minLength: 1, maxLength: 41 });
    const valid = hextets(8).chain((h) => textForm(h, false));
    // A valid form with one character deleted, inserted or replaced.
    const nearly = fc.tuple(valid, fc.nat(), fc.constantFrom("", ":", ".", "0", "f", "::", "g", "1.2.3.4")).map(([v, at, c]) => {
      const i = at % (v.length + 1);
      return at % 2 ? v.slice(0, i) + c + v.slice(i) : v.slice(0, i) + c + v.slice(i + 1);
    });
    const text = fc.oneof(random, valid, nearly).filter((s) => s.length > 0);
    fc.assert(
      fc.property(text, (s) => {
        let canonical: string | null = null;
        try {
          const host = new URL(`http://[${s}]/`).hostname;
          canonical = host.slice(1, -1);
        } catch {
          /* not an IPv6 address */
        }
        const k = ipKey(s);
        if (canonical === null) {
          // A dotted quad alone is valid for ipKey (IPv4) but not inside brackets for URL.
          if (!/^\d+\.\d+\.\d+\.\d+$/.test(s)) expect(k, s).toBe(BAD_IP_KEY);
        } else {
          expect(k, s).not.toBe(BAD_IP_KEY);
          expect(k, s).toBe(ipKey(canonical));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("junk of any kind collapses into one key, so varying it never makes a fresh bucket", () => {
    const junk = fc.oneof(
      fc.string({ maxLength: 80 }).filter((s) => /[^0-9a-fA-F:.%[\]\s]/.test(s) && !/%/.test(s)),
      fc.constantFrom(
        "",
        " ",
        "unknown",
        "localhost",
        "1.2.3",
        "1.2.3.4.5",
        "01.2.3.4",
        "256.1.1.1",
        "1.2.3.4:80",
        "[::1]:443",
        ":::",
        "1::2::3",
        "::g",
        "2001:db8:::1",
        "1:2:3:4:5:6:7:8:9",
        "%eth0",
        "1.2.3.4%x",
        "::ffff:1.2.3.256",
        "[::1",
        "::1]",
        "0x7f.0.0.1",
        "1e2.0.0.1",
      ),
      fc.string({ minLength: MAX_IP_HEADER_LENGTH + 1, maxLength: 200 }),
    );
    fc.assert(
      fc.property(junk, (s) => {
        expect(ipKey(s), JSON.stringify(s)).toBe(BAD_IP_KEY);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("clientKey", () => {
  const req = (headers: Record<string, string>) => new Request("https://x.test/", { headers });

  it("uses CF-Connecting-IP when present, whatever the credential", async () => {
    expect(await clientKey(req({ "CF-Connecting-IP": "2001:db8::1", Authorization: "Bearer a" }))).toBe("ip6:2001:db8:0:0");
    expect(await clientKey(req({ "CF-Connecting-IP": "2001:db8::2" }), "other")).toBe("ip6:2001:db8:0:0");
    expect(await clientKey(req({ "CF-Connecting-IP": "junk" }), "x")).toBe(BAD_IP_KEY);
  });

  it("without it, keys by a fingerprint of what was presented: one credential, one key; others differ; nothing of the credential is kept", async () => {
    const secret = "a-credential-value-that-must-not-be-stored";
    const k = await clientKey(req({}), secret);
    expect(k).toMatch(new RegExp(`^${NO_IP_PREFIX}[0-9a-f]{32}$`));
    expect(k).not.toContain(secret);
    expect(await clientKey(req({ Authorization: "Bearer zzz" }), secret)).toBe(k);
    expect(await clientKey(req({ Authorization: `Bearer ${secret}` }))).not.toBe(k); // the whole header, not the token
    const keys = new Set<string>();
    for (let i = 0; i < 200; i++) keys.add(await clientKey(req({}), `cred-${i}`));
    expect(keys.size).toBe(200);
  });
});

describe("secrets: one minimum for every Worker", () => {
  it("unset is off, shorter than MIN_SECRET_BYTES (in UTF-8 bytes) is weak, otherwise ok", () => {
    expect(MIN_SECRET_BYTES).toBe(32);
    expect(secretState("T_SECRET", "auth", undefined)).toEqual({ kind: "off" });
    expect(secretState("T_SECRET", "auth", "")).toEqual({ kind: "off" });
    expect(secretState("T_SECRET", "auth", "x".repeat(31))).toEqual({ kind: "weak", bytes: 31 });
    expect(secretState("T_SECRET", "auth", "é".repeat(16))).toEqual({ kind: "ok", secret: "é".repeat(16) }); // 32 bytes, 16 characters
    expect(secretState("T_SECRET", "auth", "x".repeat(32)).kind).toBe("ok");
  });

  it("the weak-secret error is a 503 that says how to generate one, and never holds the secret", () => {
    const err = weakSecretError("ADMIN_SECRET", "auth");
    expect(err.status).toBe(503);
    expect(err.code).toBe("weak_secret");
    expect(err.message).toContain(generateHint("ADMIN_SECRET", "auth"));
    expect(generateHint("ADMIN_SECRET", "auth")).toBe("openssl rand -base64 32 | npx wrangler secret put ADMIN_SECRET --env auth");
  });

  it("bearerSecret reads Authorization: Bearer only", () => {
    expect(bearerSecret(new Headers({ Authorization: "Bearer abc" }))).toBe("abc");
    expect(bearerSecret(new Headers({ Authorization: "bearer abc" }))).toBe("abc");
    expect(bearerSecret(new Headers({ Authorization: "Basic abc" }))).toBe("");
    expect(bearerSecret(new Headers())).toBe("");
  });
});
