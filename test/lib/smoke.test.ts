import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { KvStore, json } from "../../shared/kv/index.ts";
it("round-trips", async () => {
  const s = new KvStore(env.TEST_KV, { prefix: "p:", codec: json<{ a: number }>() });
  await s.put("k", { a: 1 });
  expect(await s.get("k")).toEqual({ a: 1 });
  expect(await env.TEST_KV.get("p:k")).toBe('{"a":1}');
});
