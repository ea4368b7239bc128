import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Each project runs in the runtime its code ships to:
//  - "lib" and one project per Worker run inside workerd with real local KV;
//  - "node" runs the CLI and end-to-end tests (real HTTP to wrangler dev / miniflare).
export default defineConfig({
  test: {
    projects: [
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
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
          typecheck: { enabled: true, include: ["test/**/*.test-d.ts"], tsconfig: "test/tsconfig.json" },
        },
      },
    ],
  },
});
