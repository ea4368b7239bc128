// KV writes per deploy (issue 12): one write per new file by default, the count reported
// before the first write and exact after, previews that never touch the pointer, and
// promotion as one write. Counted on the real local KV through a wrapper that only counts.
import { describe, expect, it } from "vitest";
import type { KvBinding } from "../../shared/kv/index.ts";
import { MIN_PRECOMPRESS_SAVING, publishSite, shardCountFor, siteStores, type PublishOptions, type WritePlan } from "../../cli/site/publish.ts";
import { gc, listVersions, promote, rollback } from "../../cli/site/versions.ts";
import { indexKey, shardKeyFor } from "../../workers/site/model.ts";
import { freshKv, gzipBytes, server } from "./helpers.ts";

const enc = new TextEncoder();

/** The real (namespaced) SITE_KV, counting the puts that reach it by key. */
function counting(): { kv: KvBinding; puts: string[] } {
  const inner = freshKv();
  const puts: string[] = [];
  const put: KvBinding["put"] = (k, v, o) => {
    puts.push(k);
    return inner.put(k, v, o);
  };
  return { kv: { ...inner, put }, puts };
}

/** `n` distinct small text files (and an index.html). */
function site(n: number, tag = ""): PublishOptions["files"] {
  return Array.from({ length: n }, (_, i) => {
    const path = i === 0 ? "/index.html" : `/d${Math.floor(i / 100)}/f${i}.txt`;
    return { path, load: async () => enc.encode(`file ${i}${tag}\n`) };
  });
}

const shardsFor = (n: number) => shardCountFor(n);

describe("one KV write per new file", { timeout: 30_000 }, () => {
  it("a first deploy of 1,000 files makes files + shards + index + pointer writes (<= 1,010); an unchanged redeploy makes none", async () => {
    const { kv, puts } = counting();
    const plans: WritePlan[] = [];
    const first = await publishSite(kv, { files: site(1000), now: Date.now, onPlan: (p) => plans.push(p) });
    const expected = 1000 + shardsFor(1000) + 2;
    expect(puts).toHaveLength(expected);
    expect(expected).toBeLessThanOrEqual(1010);
    expect(first.writes).toEqual({ blobs: 1000, shards: shardsFor(1000), index: 1, pointer: 1, total: expected });
    // Announced before the first write, and exact (no precompression).
    expect(plans).toEqual([{ writes: first.writes, atMost: false, newBlobs: 1000, unchanged: false }]);
    expect(puts.filter((k) => k.includes("b:"))).toHaveLength(1000);

    puts.length = 0;
    const again = await publishSite(kv, { files: site(1000), now: Date.now });
    expect(again).toMatchObject({ unchanged: true, version: first.version, writes: { total: 0 } });
    expect(puts).toHaveLength(0);

    // One changed file: its blob, the one shard that lists it, the index and the pointer (issue 23).
    const changed = site(1000);
    changed[500] = { path: changed[500]!.path, load: async () => enc.encode("changed\n") };
    const third = await publishSite(kv, { files: changed, now: () => Date.now() + 2000 });
    expect(puts).toHaveLength(4);
    expect(third.writes.total).toBe(puts.length);
  });

  it("a dry run reports the writes a real deploy then makes, and writes nothing", async () => {
    const { kv, puts } = counting();
    const files = site(300);
    const dry = await publishSite(kv, { files, now: Date.now, dryRun: true });
    expect(puts).toHaveLength(0);
    const real = await publishSite(kv, { files, now: Date.now });
    expect(real.writes).toEqual(dry.writes);
    expect(puts).toHaveLength(dry.writes.total);
  });

  it("files sharing content are one blob: one write", async () => {
    const { kv, puts } = counting();
    const same = async () => enc.encode("same bytes");
    const r = await publishSite(kv, {
      files: [
        { path: "/a.txt", load: same },
        { path: "/b.txt", load: same },
      ],
      now: Date.now,
    });
    expect(r.writes).toMatchObject({ blobs: 1, total: 4 });
    expect(puts).toHaveLength(4);
  });

  it("refuses to store bytes that changed between hashing and upload under the old hash", async () => {
    const { kv, puts } = counting();
    let reads = 0;
    const load = async () => enc.encode(reads++ === 0 ? "first read" : "second read");
    await expect(publishSite(kv, { files: [{ path: "/x.txt", load }], now: Date.now })).rejects.toThrow(/\/x\.txt changed during the deploy/);
    expect(puts).toHaveLength(0);
  });
});

describe("--precompress", () => {
  const css = `body{color:red}\n${"p{margin:0}\n".repeat(400)}`;

  it("stores a variant only where it saves at least MIN_PRECOMPRESS_SAVING, and counts each", async () => {
    const { kv, puts } = counting();
    const size = 1000;
    // A compressor returning exactly the boundary sizes: 90% is kept, one byte more is not.
    const atBoundary = Math.floor(size * (1 - MIN_PRECOMPRESS_SAVING));
    const compress: PublishOptions["compress"] = async () => ({ br: new Uint8Array(atBoundary), gz: new Uint8Array(atBoundary + 1) });
    const plans: WritePlan[] = [];
    const r = await publishSite(kv, {
      files: [{ path: "/a.css", load: async () => enc.encode("a".repeat(size)) }],
      compress,
      now: Date.now,
      onPlan: (p) => plans.push(p),
    });
    const entry = Object.values((await siteStores(kv).shard.get(shardKeyFor((await siteStores(kv).index.get(indexKey(r.version)))!, "/a.css")))!)[0]!;
    expect(entry.z).toEqual({ br: atBoundary });
    expect(r.writes).toMatchObject({ blobs: 2, total: 5 });
    expect(puts).toHaveLength(5);
    // Announced as an upper bound (identity + both variants), before compressing.
    expect(plans[0]).toMatchObject({ atMost: true, writes: { blobs: 3, total: 6 } });
  });

  it("never compresses binary types, nor keeps a variant of incompressible text", async () => {
    const { kv } = counting();
    const random = crypto.getRandomValues(new Uint8Array(4096));
    const r = await publishSite(kv, {
      files: [
        { path: "/site.css", load: async () => enc.encode(css) },
        {
          path: "/noise.txt",
          load: async () => enc.encode(btoa(String.fromCharCode(...random)).replace(/[A-Za-z]/g, (c) => String.fromCharCode(33 + (c.charCodeAt(0) % 90)))),
        },
        { path: "/photo.png", load: async () => enc.encode(`${css}png`) },
      ],
      compress: async (d) => ({ gz: await gzipBytes(d) }),
      now: Date.now,
    });
    const shard = (await siteStores(kv).shard.get(shardKeyFor((await siteStores(kv).index.get(indexKey(r.version)))!, "/site.css")))!;
    expect(shard["/site.css"]!.z?.gz).toBeLessThan(css.length * 0.9);
    expect(shard["/photo.png"]!.z).toBeUndefined();
    const noise = shard["/noise.txt"]!;
    if (noise.z?.gz !== undefined) expect(noise.z.gz).toBeLessThanOrEqual(noise.s * 0.9);
  });

  it("without it, text is stored once and served as identity (Cloudflare compresses it for visitors)", async () => {
    const { kv, puts } = counting();
    await publishSite(kv, { files: [{ path: "/site.css", load: async () => enc.encode(css) }], now: Date.now });
    expect(puts.filter((k) => k.includes(":b:"))).toHaveLength(1);
    const res = await server(kv).fetch("/site.css", { headers: { "Accept-Encoding": "br, gzip" } });
    expect(res.headers.get("Content-Encoding")).toBeNull();
    expect(res.headers.get("Vary")).toBeNull();
    expect(await res.text()).toBe(css);
  });

  it("a later deploy without it keeps the variants already stored (no migration)", async () => {
    const { kv, puts } = counting();
    await publishSite(kv, {
      files: [{ path: "/site.css", load: async () => enc.encode(css) }],
      compress: async (d) => ({ gz: await gzipBytes(d) }),
      now: Date.now,
    });
    puts.length = 0;
    const r = await publishSite(kv, {
      files: [
        { path: "/site.css", load: async () => enc.encode(css) },
        { path: "/new.txt", load: async () => enc.encode("new") },
      ],
      now: () => Date.now() + 2000,
    });
    expect(r.writes).toMatchObject({ blobs: 1, total: 4 });
    const res = await server(kv).fetch("/site.css", { headers: { "Accept-Encoding": "gzip" } });
    expect(res.headers.get("Content-Encoding")).toBe("gzip");
  });
});

describe("previews and promotion", () => {
  it("a preview records the version without writing the pointer; the Worker keeps serving live", async () => {
    const { kv, puts } = counting();
    const live = await publishSite(kv, { files: [{ path: "/index.html", load: async () => enc.encode("live home") }], now: Date.now });
    const pointerBefore = await siteStores(kv).pointer.get("live");
    puts.length = 0;
    const p = await publishSite(kv, {
      files: [
        { path: "/index.html", load: async () => enc.encode("preview home") },
        { path: "/new.html", load: async () => enc.encode("new page") },
      ],
      preview: true,
      now: () => Date.now() + 2000,
    });
    expect(p).toMatchObject({ preview: true, previous: live.version, writes: { blobs: 2, shards: 1, index: 1, pointer: 0, total: 4 } });
    expect(puts).toHaveLength(4);
    expect(puts.some((k) => k.endsWith("site:live"))).toBe(false);
    expect(await siteStores(kv).pointer.get("live")).toEqual(pointerBefore);
    const { value, metadata } = await siteStores(kv).index.getWithMetadata(indexKey(p.version));
    expect(value?.id).toBe(p.version);
    expect(metadata).toMatchObject({ preview: 1 });
    const { versions } = await listVersions(siteStores(kv));
    expect(versions.map((v) => [v.id, v.live, v.preview])).toEqual([
      [p.version, false, true],
      [live.version, true, false],
    ]);
    const s = server(kv);
    expect(await (await s.fetch("/")).text()).toBe("live home");
    expect((await s.fetch("/new")).status).toBe(404);
    // A plain rollback never lands on a preview: it is not in the pointer's history.
    await expect(rollback(siteStores(kv), undefined, Date.now)).rejects.toThrow(/no previous version/);

    puts.length = 0;
    const r = await promote(siteStores(kv), p.version, Date.now);
    expect(r).toEqual({ from: live.version, to: p.version, unchanged: false });
    expect(puts).toHaveLength(1);
    expect(await siteStores(kv).pointer.get("live")).toMatchObject({ live: p.version, previous: [live.version] });
    expect(await (await server(kv).fetch("/new")).text()).toBe("new page");
    puts.length = 0;
    expect(await promote(siteStores(kv), p.version, Date.now)).toMatchObject({ unchanged: true });
    expect(puts).toHaveLength(0);
    await expect(promote(siteStores(kv), "20200101T000000Z-00000000", Date.now)).rejects.toThrow(/not found/);
  });

  it("a preview can be promoted before any site is live", async () => {
    const { kv } = counting();
    const p = await publishSite(kv, { files: [{ path: "/index.html", load: async () => enc.encode("first") }], preview: true, now: Date.now });
    expect(await siteStores(kv).pointer.get("live")).toBeNull();
    expect((await server(kv).fetch("/")).status).toBe(404);
    expect(await promote(siteStores(kv), p.version, Date.now)).toEqual({ from: null, to: p.version, unchanged: false });
    expect(await (await server(kv).fetch("/")).text()).toBe("first");
  });

  it("gc keeps a preview among the newest N whole, and deletes an older one", async () => {
    const { kv } = counting();
    const t = Date.now();
    const file = (s: string) => [{ path: "/index.html", load: async () => enc.encode(s) }];
    const old = await publishSite(kv, { files: file("old preview"), preview: true, now: () => t });
    const live = await publishSite(kv, { files: file("live"), now: () => t + 2000 });
    const fresh = await publishSite(kv, { files: file("new preview"), preview: true, now: () => t + 4000 });
    const r = await gc(siteStores(kv), { keep: 1, graceMs: 0, now: () => t + 10_000 });
    expect(r.keptVersions.sort()).toEqual([fresh.version, live.version].sort());
    expect(r.deletedVersions).toEqual([old.version]);
    expect(r.deletedBlobs).toBe(1);
    const s = siteStores(kv);
    expect(await s.index.get(indexKey(fresh.version))).not.toBeNull();
    expect(await promote(s, fresh.version, Date.now)).toMatchObject({ unchanged: false });
    expect(await (await server(kv).fetch("/")).text()).toBe("new preview");
  });
});
