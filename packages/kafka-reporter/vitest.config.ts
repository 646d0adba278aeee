import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: { conditions: ["@spark-etl/source"] },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["../../tools/infra/src/vitestGlobalSetup.ts"],
    provide: { infraNeeds: ["kafka"] },
    testTimeout: 120_000,
    hookTimeout: 240_000
  }
})
