import { defineConfig } from "vitest/config"

// Workspace packages resolve to their sources in tests (the `@spark-etl/source` export condition),
// on the server side too: vitest runs tests in Vite's SSR environment.
const conditions = ["@spark-etl/source"]

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    // The benchmark is a measurement, not a test: it runs only when asked (npm run bench).
    include: process.env["RUNNER_SQL_BENCH"] ? ["bench/**/*.bench.ts"] : ["test/**/*.test.ts"],
    globalSetup: ["../../tools/infra/src/vitestGlobalSetup.ts"],
    provide: { infraNeeds: ["spark"] },
    testTimeout: 120_000,
    hookTimeout: 240_000
  }
})
