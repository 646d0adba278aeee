import { defineConfig } from "vitest/config"

// Workspace packages resolve to their sources in tests, on vitest's server side too.
const conditions = ["@spark-etl/source"]

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["../../tools/infra/src/vitestGlobalSetup.ts"],
    provide: { infraNeeds: ["spark", "kafka"] },
    testTimeout: 180_000,
    hookTimeout: 240_000,
    // The end-to-end tests start CLI processes that each use Spark; one file at a time.
    fileParallelism: false
  }
})
