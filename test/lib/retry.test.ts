import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { KvOps, KvRateLimitError, KvStore, KvUnavailableError, stream, text, WRITE_RETRY_DEFAULTS } from "../../shared/kv/index.ts";
import { faulty } from "./helpers.ts";

function recordingSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

describe("writes refused with 429 (one write per second per key)", () => {
  it("are retried with bounded, jittered, growing backoff and then succeed", async () => {
    const f = faulty(env.TEST_KV);
    f.failPuts(3);
    const { waits, sleep } = recordingSleep();
    let r = 0;
    const randoms = [0, 0.5, 0.999];
    const store = new KvStore(f.kv, { prefix: "retry1:", codec: text(), sleep, random: () => randoms[r++ % 3]!, retry: { baseDelayMs: 100, maxDelayMs: 300 } });
    const ops = new KvOps();
    await store.put("k", "v", { ops });
    expect(await env.TEST_KV.get("retry1:k")).toBe("v");
    expect(f.calls.put).toBe(4);
    expect(ops.writes).toBe(4);
    // cap doubles (100, 200, 300 max); each wait is in [cap/2, cap].
    expect(waits).toEqual([50, 150, 300]);
  });

  it("give up after the attempt bound with a typed error naming the key and attempts", async () => {
    const f = faulty(env.TEST_KV);
    f.failPuts(100);
    const { waits, sleep } = recordingSleep();
    const store = new KvStore(f.kv, { prefix: "retry2:", codec: text(), sleep });
    const err = await store.put("k", "v").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KvRateLimitError);
    expect((err as KvRateLimitError).attempts).toBe(WRITE_RETRY_DEFAULTS.attempts);
    expect((err as KvRateLimitError).key).toBe("retry2:k");
    expect(waits).toHaveLength(WRITE_RETRY_DEFAULTS.attempts - 1);
    for (const w of waits) expect(w).toBeLessThanOrEqual(WRITE_RETRY_DEFAULTS.maxDelayMs);
    expect(await env.TEST_KV.get("retry2:k")).toBeNull();
  });

  it("other failures are not retried and surface as KvUnavailableError with the cause", async () => {
    const f = faulty(env.TEST_KV);
    f.failPuts(1, "KV PUT failed: 500 Internal Server Error");
    const { waits, sleep } = recordingSleep();
    const store = new KvStore(f.kv, { codec: text(), sleep });
    const err = await store.put("k", "v").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KvUnavailableError);
    expect(((err as Error).cause as Error).message).toContain("500");
    expect(waits).toEqual([]);
    expect(f.calls.put).toBe(1);
  });

  it("a stream can be sent once, so its 429 is not retried", async () => {
    const f = faulty(env.TEST_KV);
    f.failPuts(1);
    const store = new KvStore(f.kv, { codec: stream(), sleep: async () => {} });
    const err = await store.put("s", new Response("abc").body!).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KvRateLimitError);
    expect((err as KvRateLimitError).attempts).toBe(1);
  });
});
