import { project } from "../../vitest.shared.js"

// PostgreSQL for the rules' database, and a Spark whose classpath has its JDBC driver. The CLI
// end-to-end test spawns processes on the shared servers: files run one after the other.
// The benchmark is a measurement, not a test: it runs only when asked (npm run bench).
export default project({
  needs: ["spark", "postgres"],
  fileParallelism: false,
  include: process.env["RUNNER_JDBC_BENCH"] ? ["bench/**/*.bench.ts"] : ["test/**/*.test.ts"]
})
