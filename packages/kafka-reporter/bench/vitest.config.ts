import { defineConfig } from "vitest/config"
import { project } from "../../../vitest.shared.js"

// `npm run bench -w @spark-etl/kafka-reporter`: the figures of the README, against a real broker
// (KAFKA_BROKERS when set, else a local one started by the infra global setup). The tests' own
// configuration, so the outboxes it writes go to the run's temporary folder, removed at its end.
export default defineConfig({
  ...project({ needs: ["kafka"], include: ["bench/**/*.run.ts"], testTimeoutMs: 600_000 }),
  root: `${import.meta.dirname}/..`
})
