import { project } from "../../vitest.shared.js"

// The end-to-end tests start CLI processes that each use Spark; one file at a time. HDFS for
// the batches whose inputs and targets are hdfs:// URIs; the broker requiring SASL_SSL for the
// site config's Kafka security.
export default project({
  needs: ["spark", "kafka", "hdfs", "kafka-secure"],
  testTimeoutMs: 180_000,
  fileParallelism: false
})
