// Preloaded with `node --import` by the deploy benchmark: counts the KV
// operations the real `edgekv` binary makes. It swaps, for cli/targets.ts only,
// the "wrangler" module for a shim whose getPlatformProxy wraps each KV binding
// in a counter. Counts are written as JSON to $EDGEKV_BENCH_KV_COUNT at exit.
import { register } from "node:module";
register("./kv-count-loader.mjs", import.meta.url);
