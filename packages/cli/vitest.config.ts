import { project } from "../../vitest.shared.js"

// The end-to-end tests start CLI processes that each use Spark; one file at a time. HDFS for
// the batches whose inputs and targets are hdfs:// URIs.
export default project({ needs: ["spark", "kafka", "hdfs"], testTimeoutMs: 180_000, fileParallelism: false })
