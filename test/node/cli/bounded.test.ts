// A local runtime wedged on a busy state (two commands on one SQLite state) must not hang a
// command: every local KV call is bounded (cli/targets.ts `boundedCalls`), and the command
// ends with one clean line. The binding is Miniflare's real KV; the fault wraps it.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeError } from "../../../cli/main.ts";
import { boundedCalls, LOCAL_KV_CALL_TIMEOUT_MS } from "../../../cli/targets.ts";
import type { KvBinding } from "../../../shared/kv/binding.ts";
import { KvReader, KvWriter, listPages, text } from "../../../shared/kv/index.ts";
import { readKeyWorker, startWithEnvBindings } from "../helpers/miniflare.ts";

let dir: string;
let mf: Miniflare;
let kv: KvBinding;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-bounded-"));
  mf = await startWithEnvBindings("site", dir, readKeyWorker("SITE_KV"));
  kv = (await mf.getKVNamespace("SITE_KV")) as unknown as KvBinding;
}, 60_000);
afterAll(async () => {
  await mf?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The real binding, with `op` never answering (as a call stuck behind another runtime's lock). */
const stuck = (op: string): KvBinding =>
  new Proxy(kv, {
    get: (target, prop) => {
      const v = Reflect.get(target, prop) as unknown;
      if (prop === op) return () => new Promise(() => {});
      return typeof v === "function" ? v.bind(target) : v;
    },
  });

describe("boundedCalls: local KV calls that never answer end the command", () => {
  it("passes every call through unchanged when the runtime answers", async () => {
    const b = boundedCalls(kv, 5_000);
    await b.put("a", "1", { metadata: { by: "t" } });
    expect(await b.get("a", { type: "text" })).toBe("1");
    expect(await b.getWithMetadata("a", { type: "text" })).toMatchObject({ value: "1", metadata: { by: "t" } });
    expect((await b.list({ prefix: "a" })).keys.map((k) => k.name)).toEqual(["a"]);
    await b.delete("a");
    expect(await b.get("a", { type: "text" })).toBeNull();
  });

  // The binding's call, and the operation the library names when it fails.
  for (const [op, named] of [
    ["getWithMetadata", "get"],
    ["put", "put"],
    ["list", "list"],
  ] as const) {
    it(`a ${op} that never answers fails within the bound, as one clean line`, async () => {
      const b = boundedCalls(stuck(op), 300);
      const started = Date.now();
      const run =
        named === "get"
          ? new KvReader(b, { codec: text() }).get("k")
          : named === "put"
            ? new KvWriter(b, { codec: text() }).put("k", "v")
            : listPages(new KvReader(b, { codec: text() }), { prefix: "k" }).next();
      const err = await run.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(Date.now() - started).toBeLessThan(5_000);
      const shown = describeError(err);
      expect(shown.exit).toBe(1);
      expect(shown.message).toMatch(new RegExp(`^KV ${named} failed: no answer within 0.3 s from the local runtime .*; run again$`));
    });
  }

  it("the bound is generous next to a healthy call (seconds, not ms) and below a test's patience", () => {
    expect(LOCAL_KV_CALL_TIMEOUT_MS).toBeGreaterThanOrEqual(10_000);
    expect(LOCAL_KV_CALL_TIMEOUT_MS).toBeLessThanOrEqual(60_000);
  });
});
