// Sites at Static Assets' scale (issue 23): shards keyed by their content and shared across
// versions, so a one-file change is 4 KV writes whatever the site's size; the Worker reads
// both index formats, an old-format site migrates on its next deploy without a broken live
// version, and gc never deletes a shard or blob a kept version uses (property test over
// random deploy/rollback/promote/gc sequences). All on the real local KV.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { KvBinding } from "../../shared/kv/index.ts";
import { listShards, publishSite, shardCountFor, siteStores, type FileSource, type SiteStores } from "../../cli/site/publish.ts";
import { gc, listVersions, promote, rollback } from "../../cli/site/versions.ts";
import {
  DEFAULT_CHUNK_BYTES,
  MAX_SHARDS,
  POINTER_KEY,
  blobKey,
  indexKey,
  legacyShardKey,
  partsOf,
  shardKeyFor,
  shardKeysOf,
  shardOf,
  type Shard,
  type SiteIndex,
} from "../../workers/site/model.ts";
import { sha256Hex } from "../../shared/crypto.ts";
import { freshKv, server } from "./helpers.ts";

const enc = new TextEncoder();

/** The real (namespaced) SITE_KV, recording the keys of the puts that reach it. */
function counting(inner: KvBinding = freshKv()): { kv: KvBinding; puts: string[]; inner: KvBinding } {
  const puts: string[] = [];
  const put: KvBinding["put"] = (k, v, o) => {
    puts.push(k);
    return inner.put(k, v, o);
  };
  return { kv: { ...inner, put }, puts, inner };
}

const files = (contents: Record<string, string>): FileSource[] =>
  Object.entries(contents).map(([path, text]) => ({ path, load: async () => enc.encode(text) }));

/** `n` files in folders of 100, as a generated site. */
function generated(n: number): Record<string, string> {
  const out: Record<string, string> = { "/index.html": "<h1>home</h1>" };
  for (let i = 1; i < n; i++) out[`/d${Math.floor(i / 100)}/f${i}.txt`] = `file ${i}\n`;
  return out;
}

const without = (c: Record<string, string>, path: string) => Object.fromEntries(Object.entries(c).filter(([p]) => p !== path));

/** The kind of each key written: blob, shard, index, pointer. */
const kinds = (puts: string[]) =>
  puts.map((k) => k.slice(k.indexOf("site:") + 5)).map((k) => (k === POINTER_KEY ? "pointer" : ({ b: "blob", m: "shard", v: "index" } as const)[k[0] as "b"]));

describe("shard count: stable under small changes", () => {
  it("a power of two near the target, kept while the site stays within a factor of two", () => {
    expect(shardCountFor(1)).toBe(1);
    expect(shardCountFor(256)).toBe(1);
    expect(shardCountFor(257)).toBe(2);
    expect(shardCountFor(20_000)).toBe(128);
    expect(shardCountFor(100_000)).toBe(512);
    // One file more or less never changes a live count...
    for (const n of [255, 256, 257, 511, 512, 513, 1024, 1025, 20_000, 100_000]) {
      const live = shardCountFor(n);
      expect(shardCountFor(n + 1, live)).toBe(live);
      expect(shardCountFor(n - 1, live)).toBe(live);
    }
    // ...doubling does, and halving; a count that is no power of two (an old index) is not kept.
    expect(shardCountFor(1200, 1)).toBe(8);
    expect(shardCountFor(100, 8)).toBe(1);
    expect(shardCountFor(1200, 5)).toBe(8);
    expect(shardCountFor(10 ** 9)).toBe(MAX_SHARDS);
  });
});

describe("a one-file change is 4 KV writes, whatever the site's size", { timeout: 60_000 }, () => {
  it("1,200 files in 8 shards: first deploy files + 8 + 2, unchanged 0, change/add one 4, remove one 3, back to a stored state 2", async () => {
    const { kv, puts } = counting();
    const site = generated(1200);
    let t = Date.now();
    const deploy = (c: Record<string, string>) => publishSite(kv, { files: files(c), now: () => (t += 2000) });

    const first = await deploy(site);
    expect(first.writes).toEqual({ blobs: 1200, shards: 8, index: 1, pointer: 1, total: 1210 });
    expect(puts).toHaveLength(1210);
    const index = (await siteStores(kv).index.get(indexKey(first.version)))!;
    expect(index).toMatchObject({ v: 2, files: 1200 });
    expect(index.v === 2 && index.shards).toHaveLength(8);

    puts.length = 0;
    expect(await deploy(site)).toMatchObject({ unchanged: true, writes: { total: 0 } });
    expect(puts).toEqual([]);

    const steps: [string, Record<string, string>, string[]][] = [
      ["change one", { ...site, "/d5/f555.txt": "changed\n" }, ["blob", "shard", "index", "pointer"]],
      ["add one", { ...site, "/d5/f555.txt": "changed\n", "/new.txt": "new\n" }, ["blob", "shard", "index", "pointer"]],
      ["remove one", without({ ...site, "/d5/f555.txt": "changed\n", "/new.txt": "new\n" }, "/d7/f777.txt"), ["shard", "index", "pointer"]],
      // Back to an earlier state: every shard is stored already.
      ["revert the removal", { ...site, "/d5/f555.txt": "changed\n", "/new.txt": "new\n" }, ["index", "pointer"]],
      ["revert everything", site, ["index", "pointer"]],
    ];
    for (const [what, contents, expected] of steps) {
      puts.length = 0;
      const plans: number[] = [];
      const r = await publishSite(kv, { files: files(contents), now: () => (t += 2000), onPlan: (p) => plans.push(p.writes.total) });
      expect(kinds(puts).sort(), what).toEqual([...expected].sort());
      expect(r.writes.total, what).toBe(expected.length);
      expect(plans, what).toEqual([expected.length]);
    }
    const s = server(kv);
    expect(await (await s.fetch("/d5/f555.txt")).text()).toBe("file 555\n");
    expect(await (await s.fetch("/d11/f1199.txt")).text()).toBe("file 1199\n");
    expect((await s.fetch("/new.txt")).status).toBe(404);
    await publishSite(kv, { files: files({ ...site, "/d5/f555.txt": "changed\n" }), now: () => (t += 2000) });
    expect(await (await server(kv).fetch("/d5/f555.txt")).text()).toBe("changed\n");
  });

  it("each shard's key is the hash of its bytes, and versions list the same key for an unchanged shard", async () => {
    const { kv } = counting();
    const site = generated(600);
    const a = await publishSite(kv, { files: files(site), now: () => Date.now() });
    const b = await publishSite(kv, { files: files({ ...site, "/index.html": "<h1>new home</h1>" }), now: () => Date.now() + 2000 });
    const stores = siteStores(kv);
    const [ia, ib] = [(await stores.index.get(indexKey(a.version)))!, (await stores.index.get(indexKey(b.version)))!];
    if (ia.v !== 2 || ib.v !== 2) throw new Error("expected new-format indexes");
    const changed = shardOf("/index.html", ia.shards.length);
    for (const [n, h] of ia.shards.entries()) {
      if (n === changed) expect(ib.shards[n]).not.toBe(h);
      else expect(ib.shards[n]).toBe(h);
    }
    for (const h of ib.shards) {
      const { value } = await stores.shard.getWithMetadata(`m:${h}`);
      expect((await sha256Hex(JSON.stringify(value))).slice(0, h.length)).toBe(h);
    }
  });
});

/** A version in the format written before shards were shared (index v: 1, shards `s:<version>:<n>`), as the old CLI wrote it. */
async function writeOldVersion(stores: SiteStores, id: string, at: number, contents: Record<string, string>): Promise<void> {
  const shards = Math.max(1, Math.ceil(Object.keys(contents).length / 256));
  const shardValues: Shard[] = Array.from({ length: shards }, () => ({}));
  for (const [path, text] of Object.entries(contents).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const bytes = enc.encode(text);
    const h = await sha256Hex(bytes);
    await stores.blob.put(blobKey(h, "id", 1, 0, DEFAULT_CHUNK_BYTES), bytes, { metadata: { t: at } });
    shardValues[shardOf(path, shards)]![path] = { h, s: bytes.byteLength, t: "text/html; charset=utf-8" };
  }
  for (const [n, s] of shardValues.entries()) await stores.shard.put(legacyShardKey(id, n), s);
  const index: SiteIndex = {
    v: 1,
    id,
    at,
    hash: "old",
    files: Object.keys(contents).length,
    bytes: 0,
    shards,
    chunk: DEFAULT_CHUNK_BYTES,
    slash: "auto",
    notFound: [],
    redirects: [],
    headers: [],
  };
  await stores.index.put(indexKey(id), index, { metadata: { at, files: index.files, bytes: 0 } });
  await stores.pointer.put(POINTER_KEY, { v: 1, live: id, previous: [], at });
}

describe("a site deployed before shards were shared", { timeout: 30_000 }, () => {
  const OLD = "20260101T000000Z-0a0b0c0d";
  const old = { ...generated(300), "/index.html": "old home" };

  it("keeps serving, migrates on its next deploy with the live version intact throughout, and rolls back to the old format", async () => {
    const { kv, inner } = counting();
    const stores = siteStores(kv);
    const t0 = Date.parse("2026-01-01T00:00:00Z");
    await writeOldVersion(stores, OLD, t0, old);
    const home = async () => (await server(kv).fetch("/")).text();
    expect(await home()).toBe("old home");
    expect(await (await server(kv).fetch("/d2/f250.txt")).text()).toBe("file 250\n");

    // A deploy killed after its blobs and some shards: the old version stays live and whole.
    let left = 2;
    const dying: KvBinding = { ...inner, put: (k, v, o) => (left-- > 0 ? inner.put(k, v, o) : Promise.reject(new Error("killed"))) };
    await expect(publishSite(dying, { files: files({ ...old, "/index.html": "new home" }), now: () => t0 + 10_000 })).rejects.toThrow(/killed/);
    expect(await home()).toBe("old home");

    // A preview of the new format: recorded, the old one still live.
    const next = { ...old, "/index.html": "new home" };
    const p = await publishSite(kv, { files: files(next), preview: true, now: () => t0 + 20_000 });
    expect(p.unchanged).toBe(false);
    expect(await home()).toBe("old home");
    const { versions } = await listVersions(stores);
    expect(versions.map((v) => [v.id, v.live, v.files])).toEqual([
      [p.version, false, 300],
      [OLD, true, 300],
    ]);
    await promote(stores, p.version, () => t0 + 30_000);
    expect(await home()).toBe("new home");
    expect((await stores.index.get(indexKey(p.version)))?.v).toBe(2);

    // Back to the old format and forth: the Worker reads either.
    await rollback(stores, OLD, () => t0 + 40_000);
    expect(await home()).toBe("old home");
    await promote(stores, p.version, () => t0 + 50_000);
    expect(await home()).toBe("new home");

    // gc keeping one version (and the skew list, which holds the old one): nothing goes.
    const kept = await gc(stores, { keep: 1, graceMs: 0, now: () => t0 + 60_000 });
    expect(kept.deletedVersions).toEqual([]);
    expect(kept.deletedShards).toBe(0);
    // A redeploy with a short skew list drops the old version from the pointer; gc then removes its
    // index and its own shards, and keeps every blob the new version still uses.
    await publishSite(kv, { files: files({ ...next, "/more.txt": "more" }), keepPrevious: 0, now: () => t0 + 70_000 });
    const r = await gc(stores, { keep: 1, graceMs: 0, now: () => t0 + 80_000 });
    expect(r.deletedVersions.sort()).toEqual([OLD, p.version].sort());
    expect(r.deletedShards).toBeGreaterThanOrEqual(2);
    expect([...(await listShards(stores))].length).toBeGreaterThan(0);
    for await (const k of stores.shard.keys({ prefix: "s:" })) throw new Error(`old shard ${k.name} left behind`);
    expect(await (await server(kv).fetch("/d2/f250.txt")).text()).toBe("file 250\n");
    expect(await (await server(kv).fetch("/more.txt")).text()).toBe("more");
  });
});

describe("gc and shared shards", { timeout: 60_000 }, () => {
  it("spares a shard written within the grace period that no index lists yet (a deploy in progress)", async () => {
    const kv = freshKv();
    await publishSite(kv, { files: files({ "/index.html": "x" }), now: Date.now });
    // A deploy killed after its blobs and shards, before its index:
    await publishSite(
      { ...kv, put: (k, v, o) => (k.includes(":v:") ? Promise.reject(new Error("killed")) : kv.put(k, v, o)) },
      {
        files: files({ "/index.html": "pending" }),
        now: Date.now,
      },
    ).catch(() => undefined);
    const stores = siteStores(kv);
    expect(await gc(stores, { now: Date.now })).toMatchObject({ deletedShards: 0, deletedBlobs: 0 });
    expect(await gc(stores, { now: () => Date.now() + 2 * 3600_000 })).toMatchObject({ deletedShards: 1, deletedBlobs: 1 });
  });

  it("never deletes a shard or blob a kept version uses (random deploy/rollback/promote/gc sequences)", async () => {
    // No .html: the Worker redirects /x.html to /x, and the check fetches paths as listed.
    const paths = ["/a.txt", "/b/c.txt", "/b/d.txt", "/e.css", "/f/g/h.js", "/i.txt", "/j.json", "/k.txt"];
    const contents = fc.dictionary(fc.constantFrom(...paths), fc.constantFrom("one", "two", "three", "four"), { minKeys: 1 });
    const op = fc.oneof(
      fc.record({ kind: fc.constant("deploy" as const), site: contents, preview: fc.boolean(), keepPrevious: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ kind: fc.constant("rollback" as const) }),
      fc.record({ kind: fc.constant("promote" as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant("gc" as const), keep: fc.integer({ min: 1, max: 3 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
        const kv = freshKv();
        const stores = siteStores(kv);
        let t = Date.now();
        const now = () => t;
        /** What each version serves, to check after every gc. */
        const served = new Map<string, Record<string, string>>();
        for (const o of ops) {
          t += 2000;
          if (o.kind === "deploy") {
            // Two entries a shard: several shards, shared between versions that differ in a few files.
            const r = await publishSite(kv, { files: files(o.site), preview: o.preview, keepPrevious: o.keepPrevious, shardTarget: 2, now });
            served.set(r.version, o.site);
          } else if (o.kind === "rollback") {
            await rollback(stores, undefined, now).catch(() => undefined);
          } else if (o.kind === "promote") {
            const { versions } = await listVersions(stores);
            if (versions.length) await promote(stores, versions[o.pick % versions.length]!.id, now);
          } else {
            await gc(stores, { keep: o.keep, graceMs: 0, now });
            const { pointer, versions } = await listVersions(stores);
            if (pointer) expect(versions.some((v) => v.id === pointer.live)).toBe(true);
            for (const v of versions) {
              const index = (await stores.index.get(indexKey(v.id)))!;
              for (const key of shardKeysOf(index)) {
                const shard = await stores.shard.get(key);
                expect(shard, `${v.id}: ${key}`).not.toBeNull();
                for (const e of Object.values(shard!))
                  expect(await stores.blob.get(blobKey(e.h, "id", partsOf(e.s, index.chunk), 0, index.chunk))).not.toBeNull();
              }
              // Every file of every kept version is where its index says.
              for (const [path, text] of Object.entries(served.get(v.id)!)) {
                const shard = (await stores.shard.get(shardKeyFor(index, path)))!;
                expect(shard[path]?.h).toBe(await sha256Hex(enc.encode(text)));
              }
            }
            if (pointer) {
              const [path, text] = Object.entries(served.get(pointer.live)!)[0]!;
              expect(await (await server(kv, now).fetch(path)).text()).toBe(text);
            }
          }
        }
      }),
      { numRuns: 25 },
    );
  });
});
