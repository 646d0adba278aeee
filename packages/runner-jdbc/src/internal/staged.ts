/**
 * The staged load (`atomic: true`, `mode: delete_key_range`), for PostgreSQL: Spark's JDBC
 * writer commits each partition on its own connection, so no statement of ours can share a
 * transaction with its inserts. The rows therefore go to a staging table first; then one
 * transaction replaces the target's rows and moves the staged ones in:
 *
 *   BEGIN; TRUNCATE t | DELETE FROM t WHERE key BETWEEN min, max of the staged keys;
 *          INSERT INTO t SELECT * FROM stage; DROP TABLE stage; COMMIT
 *
 * Readers see the old rows until the commit; a failure anywhere leaves the target as it was.
 *
 * Spark Connect offers no way to run a statement in the database but a read: the statements
 * go as the read's `sessionInitStatement`, which Spark runs on the read's one connection before
 * its query (`SELECT 1`) — and only then, not when it resolves the read's columns.
 */
import * as Effect from "effect/Effect"
import type { SparkError, SparkSession } from "@spark-etl/runner-spark-connect"
import type * as JdbcOptions from "../JdbcOptions.js"

// PostgreSQL keeps 63 bytes of a name; ours are ASCII (JdbcOptions checks them).
const maxName = 63

/**
 * The staging table: beside the target, in its schema, named after it. A name of its own per
 * target, so a rerun finds and drops what a failed run left.
 */
export const stageName = (table: string): string => {
  const parts = table.split(".")
  const name = parts.pop() ?? table
  return [...parts, `${name.slice(0, maxName - 17)}__spark_etl_stage`].join(".")
}

/** A fresh, empty staging table with the target's columns, types and defaults. */
export const prepare = (table: string, stage: string): string =>
  `DROP TABLE IF EXISTS ${stage}; CREATE UNLOGGED TABLE ${stage} (LIKE ${table} INCLUDING DEFAULTS)`

/** The transaction that replaces the target's rows with the staged ones. */
export const swap = (write: JdbcOptions.Write, stage: string): string => {
  const replace =
    write.mode === "delete_key_range" && write.key !== undefined
      ? `DELETE FROM ${write.table} WHERE ${write.key} BETWEEN (SELECT min(${write.key}) FROM ${stage}) AND (SELECT max(${write.key}) FROM ${stage})`
      : `TRUNCATE TABLE ${write.table}`
  return `BEGIN; ${replace}; INSERT INTO ${write.table} SELECT * FROM ${stage}; DROP TABLE ${stage}; COMMIT`
}

/** Runs statements in the database on one connection of the rule's, through a Spark read. */
export const execute = (
  spark: SparkSession.Session,
  connection: Readonly<Record<string, string>>,
  statements: string,
  operation: SparkSession.OperationOptions
): Effect.Effect<void, SparkError.SparkError> =>
  Effect.asVoid(
    spark.collect(
      spark.read({
        format: "jdbc",
        paths: [],
        options: { ...connection, query: "SELECT 1 AS done", sessionInitStatement: statements }
      }),
      operation
    )
  )
