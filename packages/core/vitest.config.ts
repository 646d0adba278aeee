import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: { conditions: ["@spark-etl/source"] },
  test: { include: ["test/**/*.test.ts"] }
})
