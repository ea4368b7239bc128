// Issue 21: the Workers that serve requests never write. Each Worker is bundled
// exactly as `wrangler deploy --dry-run` ships it (minified, scripts/runtime.ts,
// the bundling scripts/dry-run.mjs measures), and the data plane's bundles must
// hold no KV write path. The control Worker's bundle must hold every marker, so
// a marker that stopped matching the writer would fail here too.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bundleWorker } from "../../scripts/runtime.ts";
import { ROOT } from "../../scripts/wrangler-dev.ts";

/** What the KV writer compiles to, however it is minified: public property names and string literals survive. */
const WRITE_MARKERS: Record<string, RegExp> = {
  "KvWriter's put on its binding": /\bbinding\.put\(/,
  "KvWriter's delete on its binding": /\bbinding\.delete\(/,
  "the writer's expirationTtl option": /expirationTtl/,
  "the writer's accounting counter": /"writes"/,
};
/** A namespace written directly, past the library (`env.ROLLOUT_KV.put(...)`): never in any Worker. */
const RAW_WRITE = /\b[A-Z][A-Z0-9_]*_KV\.(put|delete)\(/;

const bundles = new Map<string, Promise<string>>();
const bundle = (env: "site" | "splitter" | "auth" | "control") => {
  if (!bundles.has(env)) bundles.set(env, bundleWorker(env, true));
  return bundles.get(env)!;
};

describe("the data plane's deployed bundles hold no KV write path", () => {
  it.each(["site", "splitter", "auth"] as const)("%s", async (env) => {
    const code = await bundle(env);
    for (const [what, re] of Object.entries(WRITE_MARKERS)) expect(re.test(code), `${env} bundles ${what}`).toBe(false);
    expect(RAW_WRITE.test(code)).toBe(false);
  });

  it("the control Worker's bundle holds every marker (the check can fail)", async () => {
    const code = await bundle("control");
    for (const [what, re] of Object.entries(WRITE_MARKERS)) expect(re.test(code), `control bundles ${what}`).toBe(true);
  });
});

describe("the data plane imports the KV library only through its read-only entry", () => {
  const WRITERS = [/shared\/kv\/index\.ts/, /shared\/kv\/store\.ts/, /shared\/rollout\/write\.ts/, /shared\/tokens\/write\.ts/];
  it.each(["site", "splitter", "auth"])("workers/%s imports no writer module", (worker) => {
    const dir = join(ROOT, "workers", worker);
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
      const src = readFileSync(join(dir, file), "utf8");
      const imports = [...src.matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]!);
      for (const re of WRITERS)
        expect(
          imports.filter((i) => re.test(i)),
          `workers/${worker}/${file}`,
        ).toEqual([]);
    }
  });
});
