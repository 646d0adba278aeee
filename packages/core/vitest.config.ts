import { defineConfig } from "vitest/config"

// Workspace packages resolve to their sources in tests, on vitest's server side too.
const conditions = ["@spark-etl/source"]

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: { include: ["test/**/*.test.ts"] }
})
