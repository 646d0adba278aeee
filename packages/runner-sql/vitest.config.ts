import { project } from "../../vitest.shared.js"

// The benchmark is a measurement, not a test: it runs only when asked (npm run bench).
export default project({
  needs: ["spark"],
  include: process.env["RUNNER_SQL_BENCH"] ? ["bench/**/*.bench.ts"] : ["test/**/*.test.ts"]
})
