import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: { conditions: ["@spark-etl/source"] },
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
