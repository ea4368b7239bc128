import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Each project runs in the runtime its code ships to, in three groups that `npm test` runs and reports apart:
//  - unit (`npm run test:unit`): "unit", plain functions in Node that start no runtime and no process;
//  - workerd (`npm run test:workerd`): "lib" and one project per Worker, inside workerd with real local KV;
//  - e2e (`npm run test:e2e`): "security" and "node", the CLI and real HTTP to wrangler dev / Miniflare.

/** Node tests of plain functions: no workerd, no wrangler, no child process. */
const UNIT = [
  "test/node/repo.test.ts",
  "test/node/docs-figures.test.ts",
  "test/node/cli/output.test.ts",
  "test/node/bench/stats.test.ts",
  "test/node/bench/soak.test.ts",
  "test/node/rollout/decide.test.ts",
];

export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: UNIT, environment: "node" } },
      {
        plugins: [
          cloudflareTest({
            miniflare: { compatibilityDate: "2026-11-01", kvNamespaces: ["TEST_KV"] },
          }),
        ],
        test: { name: "lib", include: ["test/lib/**/*.test.ts"] },
      },
      ...(["site", "splitter", "auth", "control"] as const).map((name) => ({
        plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml", environment: name } })],
        test: { name, include: [`test/${name}/**/*.test.ts`] },
      })),
      {
        // One file per attack class (docs/security.md): real HTTP to wrangler dev / Miniflare, recording origins.
        test: {
          name: "security",
          include: ["test/security/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          exclude: UNIT,
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
          typecheck: { enabled: true, include: ["test/**/*.test-d.ts"], tsconfig: "test/tsconfig.json" },
        },
      },
    ],
  },
});
