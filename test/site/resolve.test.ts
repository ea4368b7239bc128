import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { normalizePath } from "../../shared/http/path.ts";
import { SITE_PATH_POLICY, TRAILING_SLASH } from "../../workers/site/model.ts";
import { etagMatches, parseRange, pickEncoding } from "../../workers/site/negotiate.ts";
import { encodePath, findFile, resolvePath } from "../../workers/site/resolve.ts";

const segment = fc.constantFrom("a", "b", "about", "blog", "a b", "café", "x.y", "index", "%", "?", "#", "ü");
const filePath = fc
  .array(segment, { minLength: 0, maxLength: 3 })
  .chain((dirs) => fc.constantFrom("index.html", "about.html", "a", "a.html", "x.js").map((f) => `/${[...dirs, f].join("/")}`));
const site = fc.uniqueArray(filePath, { minLength: 1, maxLength: 12 });
const requestPath = fc.tuple(fc.array(segment, { maxLength: 4 }), fc.boolean()).map(([segs, slash]) => `/${segs.join("/")}${slash && segs.length ? "/" : ""}`);

describe("path resolution (property-based)", () => {
  it("a redirect always leads to a URL that serves the same file, with no second redirect", async () => {
    await fc.assert(
      fc.asyncProperty(site, requestPath, fc.constantFrom(...TRAILING_SLASH), async (files, path, policy) => {
        const set = new Set(files);
        const exists = async (p: string) => set.has(p);
        const r = await resolvePath(path, policy, exists);
        if (r.kind === "file") expect(set.has(r.file)).toBe(true);
        if (r.kind === "redirect") {
          expect(policy).not.toBe("none");
          const again = await resolvePath(r.location, policy, exists);
          expect(again).toEqual({ kind: "file", file: await findFile(path, exists) });
        }
      }),
      { numRuns: 500 },
    );
  });

  it("every file's own path serves a file, after at most one redirect", async () => {
    await fc.assert(
      fc.asyncProperty(site, fc.constantFrom(...TRAILING_SLASH), async (files, policy) => {
        const set = new Set(files);
        const exists = async (p: string) => set.has(p);
        for (const f of files) {
          let r = await resolvePath(f, policy, exists);
          if (r.kind === "redirect") r = await resolvePath(r.location, policy, exists);
          expect(r.kind).toBe("file");
          // Unless another file shadows it (/a beside /a.html), it is this file.
          if (r.kind === "file" && r.file !== f) expect(set.size).toBeGreaterThan(1);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("encodePath and normalizePath round-trip any decoded path", () => {
    // Any segment the site's path policy accepts (shared/http/path.ts refuses the rest by design).
    const seg = fc
      .string({ minLength: 1, maxLength: 8 })
      .filter((s) => !/[/\\\u0000-\u001f\u007f-\u009f]|%[0-9A-Fa-f]{2}/.test(s) && s !== "." && s !== "..")
      .filter((s) => !/^(?:|\.|\.\.);/.test(s))
      .filter((s) => {
        const n = s.normalize("NFKC");
        return n === s || !(/[/\\%;]/.test(n) || n === "." || n === "..");
      });
    fc.assert(
      fc.property(fc.array(seg, { minLength: 1, maxLength: 5 }), (segs) => {
        const path = `/${segs.join("/")}`;
        const norm = normalizePath(new URL(encodePath(path), "http://x").pathname, SITE_PATH_POLICY);
        expect(norm).toMatchObject({ ok: true, path });
      }),
    );
  });

  it("no request path escapes the site or throws: it normalises to a clean path or is refused", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (raw) => {
        let pathname: string;
        try {
          pathname = new URL(`http://x/${raw}`).pathname;
        } catch {
          return;
        }
        const norm = normalizePath(pathname);
        if (!norm.ok) expect([400, 414]).toContain(norm.status);
        else {
          expect(norm.path.startsWith("/")).toBe(true);
          expect(norm.segments).not.toContain("..");
          for (const s of norm.segments) expect(s).not.toMatch(/[/\\\u0000]/);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("negotiation", () => {
  it("picks encodings by q-value", () => {
    const both = { br: 10, gz: 12 };
    expect(pickEncoding("gzip, deflate, br", both)).toBe("br");
    expect(pickEncoding("gzip;q=1, br;q=0.5", both)).toBe("gz");
    expect(pickEncoding("br;q=0, gzip;q=0", both)).toBeUndefined();
    expect(pickEncoding("*", both)).toBe("br");
    expect(pickEncoding("*;q=0.5, identity", both)).toBeUndefined();
    expect(pickEncoding("br", { gz: 3 })).toBeUndefined();
    expect(pickEncoding(null, both)).toBeUndefined();
    expect(pickEncoding("gzip", undefined)).toBeUndefined();
  });

  it("matches ETags weakly, in lists, and *", () => {
    expect(etagMatches('W/"a"', ['"a"'])).toBe(true);
    expect(etagMatches('"x", "a"', ['"a"'])).toBe(true);
    expect(etagMatches("*", ['"a"'])).toBe(true);
    expect(etagMatches('"b"', ['"a"'])).toBe(false);
  });

  it("parses ranges, and any range stays inside the body", () => {
    expect(parseRange("bytes=0-0", 10)).toEqual({ start: 0, end: 0 });
    expect(parseRange("bytes=5-100", 10)).toEqual({ start: 5, end: 9 });
    expect(parseRange("bytes=-0", 10)).toBe("unsatisfiable");
    expect(parseRange("bytes=0-", 0)).toBe("unsatisfiable");
    expect(parseRange("bytes=3-1", 10)).toBeUndefined();
    fc.assert(
      fc.property(fc.nat(1000), fc.option(fc.nat(1000)), fc.option(fc.nat(1000)), (size, a, b) => {
        const r = parseRange(`bytes=${a ?? ""}-${b ?? ""}`, size);
        if (r && r !== "unsatisfiable") {
          expect(r.start).toBeGreaterThanOrEqual(0);
          expect(r.end).toBeLessThan(size);
          expect(r.start).toBeLessThanOrEqual(r.end);
        }
      }),
    );
  });
});
