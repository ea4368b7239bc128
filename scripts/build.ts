// `npm run build` (run by prepack, so by `npm pack` and `npm publish`): the typed KV library (edgekv/kv) and
// the CLI compiled to JavaScript with .d.ts in dist/ (tsconfig.build.json). An installed package cannot run
// .ts: Node refuses to strip types inside node_modules.
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./wrangler-dev.ts";

const dist = join(ROOT, "dist");
// From scratch: a module renamed since the last build must not linger in the package.
rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", join(ROOT, "tsconfig.build.json")], { stdio: "inherit" });
// dist/cli/main.js reads "../package.json" as cli/main.ts does (for --version): give it the version, and
// keep dist/ ES modules (the nearest package.json decides).
const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
writeFileSync(join(dist, "package.json"), `${JSON.stringify({ private: true, type: "module", version }, null, 2)}\n`);
