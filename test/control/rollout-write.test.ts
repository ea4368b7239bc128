/**
 * The one rollout writer (shared/rollout/write.ts) in workerd with the real local
 * KV: a writer that read the same version as another gives way, a config
 * overwritten after our put is reported (never success), history keys are per
 * write and the old per-version keys are still read, and the history is pruned.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { historyEntry, historyKey, listHistory, readRollout, RolloutInvalidError, RolloutOverwrittenError, writeRollout } from "../../shared/rollout/write.ts";
import { CONFIG_KEY, HISTORY_LIMIT, HISTORY_PREFIX } from "../../workers/splitter/model.ts";
import { cfg } from "../splitter/helpers.ts";

const kv = env.ROLLOUT_KV;
const T = Date.parse("2026-11-20T10:00:00Z");
const as = (by: string) => ({ action: `by ${by}`, by, now: T });

beforeEach(async () => {
  for (const k of (await kv.list()).keys) await kv.delete(k.name);
});

describe("two writers from one version", () => {
  it("the second to claim the version gives way: overwritten by <who> at vN, its claim removed, the first write stands", async () => {
    await writeRollout(kv, await readRollout(kv), cfg(), as("init"));
    const base = await readRollout(kv);
    await writeRollout(kv, base, cfg({ percent: 30 }), as("alice"));
    const lost = writeRollout(kv, base, cfg({ percent: 70 }), as("bob"));
    await expect(lost).rejects.toThrow(RolloutOverwrittenError);
    await expect(lost).rejects.toThrow("overwritten by alice at v2; run again");
    expect((await readRollout(kv)).config).toMatchObject({ version: 2, percent: 30, updatedBy: "alice" });
    const history = await listHistory(kv);
    expect(history.map((h) => [h.version, h.by])).toEqual([
      [2, "alice"],
      [1, "init"],
    ]);
  });

  it("a config overwritten after our put (a writer that did not claim) is reported, never as success", async () => {
    await writeRollout(kv, await readRollout(kv), cfg(), as("init"));
    const base = await readRollout(kv);
    // Fault injection around the real binding: another writer's config lands right after ours.
    const racing = new Proxy(kv, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop !== "put" || typeof v !== "function") return typeof v === "function" ? v.bind(target) : v;
        return async (key: string, value: string, o?: unknown) => {
          await target.put(key, value, o as KVNamespacePutOptions);
          if (key === CONFIG_KEY) await target.put(CONFIG_KEY, JSON.stringify({ ...cfg({ version: 2, percent: 99 }), updatedBy: "mallory", writeId: "x" }));
        };
      },
    });
    await expect(writeRollout(racing, base, cfg({ percent: 40 }), as("carol"))).rejects.toThrow("overwritten by mallory at v2; run again");
  });

  it("an invalid config is refused before anything is written", async () => {
    await expect(writeRollout(kv, await readRollout(kv), cfg({ percent: 150 }), as("x"))).rejects.toThrow(RolloutInvalidError);
    expect((await kv.list()).keys).toEqual([]);
  });
});

describe("history keys", () => {
  it("one key per write (version, then write id); entries written before write ids are still read", async () => {
    const old = { version: 1, at: new Date(T).toISOString(), by: "old-cli", action: "init", changes: [], config: cfg() };
    await kv.put(HISTORY_PREFIX + historyKey(1), JSON.stringify(old));
    await kv.put(CONFIG_KEY, JSON.stringify(cfg()));
    const cur = await readRollout(kv);
    expect(cur.version).toBe(1);
    const done = await writeRollout(kv, cur, cfg({ percent: 20 }), as("dave"));
    expect(done?.config.version).toBe(2);
    const names = (await kv.list({ prefix: HISTORY_PREFIX })).keys.map((k) => k.name.slice(HISTORY_PREFIX.length));
    expect(names[0]).toBe("0000000001");
    expect(names[1]).toMatch(/^0000000002-[0-9a-f]{24}$/);
    expect((await historyEntry(kv, 1))?.by).toBe("old-cli");
    expect((await historyEntry(kv, 2))?.by).toBe("dave");
  });

  it(`keeps the newest ${HISTORY_LIMIT} entries`, async () => {
    await writeRollout(kv, await readRollout(kv), cfg({ percent: 0 }), as("init"));
    for (let i = 1; i <= HISTORY_LIMIT + 2; i++) await writeRollout(kv, await readRollout(kv), cfg({ percent: i }), as("ramp"));
    const history = await listHistory(kv);
    expect(history).toHaveLength(HISTORY_LIMIT);
    expect(history[0]!.version).toBe(HISTORY_LIMIT + 3);
  });
});
