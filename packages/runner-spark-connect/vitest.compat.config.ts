import { project } from "../../vitest.shared.js"

// The compatibility suite (`npm run test:compat` at the root): what must hold on every Spark
// version the client supports, run against a server of each (SPARK_ETL_SPARK_VERSION).
export default project({
  needs: ["spark"],
  include: [
    "test/integration/Query.test.ts",
    "test/integration/Types.test.ts",
    "test/integration/Write.test.ts",
    "test/integration/Errors.test.ts",
    "test/integration/SelectOne.test.ts",
    "test/integration/OwnServer.test.ts"
  ]
})
