// wrangler, except that the KV bindings handed out by getPlatformProxy count
// their calls (reads, bulk reads, writes, deletes, lists) before passing them on.
import { writeFileSync } from "node:fs";
import * as real from "wrangler";
export * from "wrangler";

const counts = { reads: 0, readKeys: 0, writes: 0, deletes: 0, lists: 0 };
process.on("exit", () => {
  // maxRSS: the process's peak resident set, in KiB (getrusage).
  if (process.env.EDGEKV_BENCH_KV_COUNT)
    writeFileSync(process.env.EDGEKV_BENCH_KV_COUNT, JSON.stringify({ ...counts, maxRssKiB: process.resourceUsage().maxRSS }));
});

function counting(kv) {
  const read = (method) => (key, options) => {
    counts.reads += 1;
    counts.readKeys += Array.isArray(key) ? key.length : 1;
    return kv[method](key, options);
  };
  return {
    get: read("get"),
    getWithMetadata: read("getWithMetadata"),
    put: (key, value, options) => {
      counts.writes += 1;
      return kv.put(key, value, options);
    },
    delete: (key) => {
      counts.deletes += 1;
      return kv.delete(key);
    },
    list: (options) => {
      counts.lists += 1;
      return kv.list(options);
    },
  };
}

export async function getPlatformProxy(options) {
  const proxy = await real.getPlatformProxy(options);
  const env = {};
  for (const [name, binding] of Object.entries(proxy.env)) {
    const isKv = binding && typeof binding.getWithMetadata === "function" && typeof binding.list === "function";
    env[name] = isKv ? counting(binding) : binding;
  }
  return { ...proxy, env, dispose: () => proxy.dispose() };
}
