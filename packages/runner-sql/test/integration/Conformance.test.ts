// core's plugin conformance kit, run against the real server.
import * as Testing from "@spark-etl/core/testing"
import { Duration, Effect } from "effect"
import * as path from "node:path"
import { afterAll, describe, it } from "vitest"
import * as SqlRunner from "../../src/SqlRunner.js"
import { layer, run, slowQuery, unique } from "./harness.js"

const slow = slowQuery(unique("conformance_slow"))
afterAll(() => run(slow.clear))

const checks = Testing.conformance({
  runner: SqlRunner.runner,
  batchDir: path.resolve(import.meta.dirname, "..", "fixtures"),
  validOptions: [
    { sql: "SELECT 1 AS one" },
    { sql: "CREATE OR REPLACE TEMP VIEW conformance_v AS SELECT 1 AS a; SELECT a FROM conformance_v" },
    { file: "no_params.sql" },
    { sql: "SELECT 1 AS a", expect: { row_count: { min: 1, max: 1 }, not_null: ["a"], unique: ["a"] } }
  ],
  invalidOptions: [
    {},
    { sql: "SELECT 1", file: "no_params.sql" },
    { sql: "SELECT :undeclared" },
    { file: "missing.sql" },
    { sql: "SELECT 1", expect: { row_count: { min: 2, max: 1 } } },
    { sql: "SELECT 1", mode: "merge" }
  ],
  failing: { sql: "SELECT no_such_column" },
  slow: { sql: slow.sql, expect: { row_count: { min: 1 } } },
  slowRunning: slow.running,
  startWithin: Duration.seconds(90),
  stopWithin: Duration.seconds(15)
})

describe("sql runner conformance", () => {
  for (const check of checks) {
    it(check.name, () => Effect.runPromise(check.run.pipe(Effect.provide(layer()))))
  }
})
