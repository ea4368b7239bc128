// The live pointer's isolate cache (workers/site/store.ts) and its var (env.ts POINTER_TTL_MS):
// the default keeps a read for POINTER_FRESH_MS; 0 (npm start) reads on every request.
import { describe, expect, it } from "vitest";
import { KvOps, type KvBinding } from "../../shared/kv/index.ts";
import { pointerTtlMs } from "../../workers/site/config.ts";
import { POINTER_KEY, SITE_PREFIX } from "../../workers/site/model.ts";
import { POINTER_FRESH_MS, SiteReader } from "../../workers/site/store.ts";
import { freshKv } from "./helpers.ts";

const version = (n: number) => `20261207T1200${String(n).padStart(2, "0")}Z-0000000${n}`;
const point = (kv: KvBinding, n: number) => kv.put(SITE_PREFIX + POINTER_KEY, JSON.stringify({ v: 1, live: version(n), previous: [], at: Date.now() }));

describe("POINTER_TTL_MS", () => {
  it("parses 0..POINTER_FRESH_MS and falls back to the default for anything else", () => {
    expect(pointerTtlMs("0")).toBe(0);
    expect(pointerTtlMs("2500")).toBe(2500);
    expect(pointerTtlMs(String(POINTER_FRESH_MS))).toBe(POINTER_FRESH_MS);
    for (const bad of [undefined, "", " ", "-1", "1.5", "5001", "1e3x", "Infinity", "NaN"]) expect(pointerTtlMs(bad), String(bad)).toBe(POINTER_FRESH_MS);
  });

  it("0 reads the pointer on every request: a new live version shows on the next one", async () => {
    const kv = freshKv();
    const reader = new SiteReader(kv, { pointerTtlMs: 0 });
    await point(kv, 1);
    expect((await reader.pointer(new KvOps()))?.live).toBe(version(1));
    await point(kv, 2);
    expect((await reader.pointer(new KvOps()))?.live).toBe(version(2));
  });

  it("the default keeps the pointer it read for POINTER_FRESH_MS (one read for many requests)", async () => {
    const kv = freshKv();
    let now = 1_000_000;
    const reader = new SiteReader(kv, { now: () => now });
    await point(kv, 1);
    expect((await reader.pointer(new KvOps()))?.live).toBe(version(1));
    await point(kv, 2);
    now += POINTER_FRESH_MS - 1;
    expect((await reader.pointer(new KvOps()))?.live).toBe(version(1));
  });
});
