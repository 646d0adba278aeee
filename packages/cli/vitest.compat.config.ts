import { project } from "../../vitest.shared.js"

// The compatibility suite (`npm run test:compat` at the root), against a server of each Spark
// version (SPARK_ETL_SPARK_VERSION): fencing a session, and the fail-fast of every
// kind of capturable failure, with its error class, event and exit code.
export default project({
  needs: ["spark", "kafka"],
  include: ["test/e2e/Failures.test.ts", "test/e2e/FenceSession.test.ts"],
  testTimeoutMs: 180_000,
  fileParallelism: false
})
