import { defineConfig } from "vitest/config"

// `npm run bench -w @spark-etl/kafka-reporter`: the figures of the README, against a real broker
// (KAFKA_BROKERS when set, else a local one started by the infra global setup).
const conditions = ["@spark-etl/source"]

export default defineConfig({
  root: `${import.meta.dirname}/..`,
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["bench/**/*.run.ts"],
    // The workers' setup of every test project: kafkajs' negative-timer warning stays out of the figures.
    setupFiles: ["../../tools/testing/src/vitestSetup.ts"],
    globalSetup: ["../../tools/infra/src/vitestGlobalSetup.ts"],
    provide: { infraNeeds: ["kafka"] },
    testTimeout: 600_000,
    hookTimeout: 240_000
  }
})
