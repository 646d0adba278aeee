/**
 * Plain helpers for everything that drives the CLI from outside — the e2e tests, the soak and
 * the fault benchmark. No vitest in here, so a benchmark run by plain node can use them too.
 */
export { eventually, sleep, waitFor, within } from "@spark-etl/testing"
export { createTopic, readTopic } from "@spark-etl/testing/kafka"
