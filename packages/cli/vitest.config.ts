import { project } from "../../vitest.shared.js"

// The end-to-end tests start CLI processes that each use Spark; one file at a time.
export default project({ needs: ["spark", "kafka"], testTimeoutMs: 180_000, fileParallelism: false })
