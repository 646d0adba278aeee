// core's plugin conformance kit, run against the real Spark and PostgreSQL.
import { Plugin } from "@spark-etl/core"
import * as Testing from "@spark-etl/core/testing"
import type { SparkSession } from "@spark-etl/runner-spark-connect"
import { until } from "@spark-etl/testing"
import { Duration, Effect } from "effect"
import { describe, it } from "vitest"
import * as JdbcRunner from "../../src/JdbcRunner.js"
import { connection, downUrl, layer, psql, secretPassword, unique } from "./harness.js"

// The kit calls a runner with a batch of no parameters; a jdbc rule's password is one. This
// runner is the real one, given the batch's declared secret as core would give it.
const withPassword: Plugin.Runner<JdbcRunner.Options, SparkSession.SparkSession> = {
  ...JdbcRunner.runner,
  validate: (ctx) =>
    JdbcRunner.runner.validate!({
      ...ctx,
      parameters: { db_password: { type: "string", env: "DB_PASSWORD", secret: true } }
    }),
  run: (ctx) => JdbcRunner.runner.run({ ...ctx, batch: { ...ctx.batch, parameters: secretPassword() } })
}

// The slow rule reads a query that sleeps in PostgreSQL; the witness is its backend there, in
// the sleep itself. (The query's text alone is not enough: Spark first resolves the schema with
// `SELECT * FROM (<query>) WHERE 1=0`, which carries the marker, is active for a moment and sleeps
// not at all. A witness that saw it let the kit interrupt the rule before its statement ran.)
const marker = unique("conformance_slow")
const activeSlow = psql(
  `SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND wait_event = 'PgSleep' AND pid <> pg_backend_pid() AND query LIKE '%${marker}%'`
).pipe(Effect.map((out) => Number(out.trim())))

const checks = Testing.conformance({
  runner: withPassword,
  validOptions: [
    { ...connection(), read: { table: "pg_catalog.pg_class" } },
    { ...connection(), read: { query: "SELECT 1 AS one", cache: true } },
    { url: "jdbc:postgresql://db/shop", write: { from: "upstream", table: "public.t", mode: "truncate" } }
  ],
  invalidOptions: [
    {},
    { ...connection(), read: { table: "t", query: "SELECT 1" } },
    { ...connection(), password: "plain", read: { table: "t" } },
    { ...connection(), password: { param: "undeclared" }, read: { table: "t" } },
    { ...connection(), read: { table: "t" }, write: { from: "a", table: "t" } },
    { ...connection(), write: { from: "a", table: "t", mode: "append" } }
  ],
  failing: { ...connection(), read: { table: "no_such_table" } },
  // The slow rule's work, not a wait of the test's: a statement PostgreSQL runs until it is
  // cancelled (the test waits for it to show in pg_stat_activity, then for it to be gone).
  slow: {
    ...connection(),
    read: { query: `SELECT pg_sleep(120)::text AS slept, '${marker}' AS marker`, cache: true }
  },
  slowRunning: Effect.succeed(
    until(
      Effect.map(activeSlow, (n) => n > 0),
      { what: "the slow query to run in PostgreSQL", within: "90 seconds", every: "200 millis" }
    )
  ),
  startWithin: Duration.seconds(90),
  stopWithin: Duration.seconds(15)
})

describe("jdbc runner conformance", () => {
  for (const check of checks) {
    it(check.name, () => Effect.runPromise(check.run.pipe(Effect.provide(layer()))))
  }

  it("a failing rule of another category: the database down is a system failure", () =>
    Effect.runPromise(
      Testing.conformance({
        runner: withPassword,
        validOptions: [],
        invalidOptions: [],
        failing: { ...connection(downUrl), read: { table: "t" } },
        failingCategory: "system",
        slow: {},
        slowRunning: Effect.succeed(Effect.void)
      })
        .find((c) => c.name.startsWith("fails with"))!
        .run.pipe(Effect.provide(layer()))
    ))

  it("the database stops the slow query once the rule is interrupted", () =>
    Effect.runPromise(
      until(
        Effect.map(activeSlow, (n) => n === 0),
        { what: "PostgreSQL to stop the interrupted query", within: "60 seconds", every: "500 millis" }
      )
    ))
})
