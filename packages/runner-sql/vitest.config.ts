import { project } from "../../vitest.shared.js"

// The benchmark is a measurement, not a test: it runs only when asked (npm run bench). The
// path store's bench cleans targets on HDFS.
const bench = process.env["RUNNER_SQL_BENCH"] !== undefined
export default project({
  needs: bench ? ["spark", "hdfs"] : ["spark"],
  include: bench ? ["bench/**/*.bench.ts"] : ["test/**/*.test.ts"]
})
