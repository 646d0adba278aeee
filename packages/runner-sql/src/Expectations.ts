/**
 * Expectations on a rule's result: row-count bounds, not-null columns, unique keys and a query
 * that must return no rows. Each runs on the server against the rule's temp view; the first
 * that does not hold fails the rule with an `ExpectationFailed` (capturable: the data is
 * logically inconsistent) whose code names the check, whose message gives the offending count
 * and a few offending rows, and whose engine detail holds more of them.
 *
 * `analyse` is their preflight: Spark analyses the checks' queries (a missing column, a bad
 * assertion) without running them.
 *
 * @example
 * import { Expectations } from "@spark-etl/runner-sql"
 * yield* Expectations.check(spark, { ruleId: "orders_clean", view: "orders_clean", expect, params: {}, operation: {} })
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { Failure, Plugin } from "@spark-etl/core"
import type { Parameter } from "@spark-etl/core"
import type { Rows, SparkError, SparkSession } from "@spark-etl/runner-spark-connect"
import * as Classify from "./Classify.js"
import * as Parameters from "./Parameters.js"
import type * as SqlOptions from "./SqlOptions.js"
import * as Statements from "./Statements.js"

/** Stable codes of the checks, as they appear in events and logs. */
export const codes = {
  row_count: "EXPECTATION_ROW_COUNT",
  not_null: "EXPECTATION_NOT_NULL",
  unique: "EXPECTATION_UNIQUE",
  assert_empty: "EXPECTATION_ASSERT_EMPTY"
} as const

/** How many offending rows a failure shows in its message, and in its engine detail. */
export const sampleSize = { message: 3, detail: 10 } as const

/** What the checks need. */
export interface Context {
  readonly ruleId: string
  /** The temp view holding the rule's result. */
  readonly view: string
  readonly expect: SqlOptions.Expect
  /** Values for parameters referenced by `assert_empty`. */
  readonly params: Parameter.Values
  /** Tags of the rule's operations, so an interrupt stops the checks too. */
  readonly operation: SparkSession.OperationOptions
}

/** Quotes a column or view name for SQL text (names are never values: values are bound). */
export const quote = (name: string): string => `\`${name.replaceAll("`", "``")}\``

// The checks' queries, shared by `check` and `analyse` so preflight analyses what runs.
const notNullCounts = (view: string, columns: ReadonlyArray<string>): string =>
  `SELECT ${columns.map((c, i) => `count_if(${quote(c)} IS NULL) AS n${i}`).join(", ")} FROM ${view}`

const duplicatesOf = (view: string, columns: ReadonlyArray<string>): string => {
  const key = columns.map(quote).join(", ")
  return `SELECT ${key}, count(*) AS spark_etl_rows FROM ${view} GROUP BY ${key} HAVING count(*) > 1`
}

const duplicateTotals = (duplicates: string): string =>
  `SELECT count(*) AS keys, coalesce(sum(spark_etl_rows), 0) AS rows FROM (${duplicates})`

// A trailing `;` or comment is harmless in the batch file; Spark takes one statement.
const assertion = (text: string): string => Statements.split(text)[0]?.sql ?? text

const bigintMark = "\u0000bigint:"

/** A row as compact JSON text (bigints as plain integers, maps as objects, binary as its size). */
export const renderRow = (row: Rows.Row): string =>
  JSON.stringify(row, (_key, value: unknown) =>
    typeof value === "bigint"
      ? `${bigintMark}${value.toString()}`
      : value instanceof Map
        ? Object.fromEntries(value)
        : value instanceof Uint8Array
          ? `<${value.length} bytes>`
          : value
  ).replace(/"\\u0000bigint:(-?\d+)"/g, "$1")

const clip = (text: string, max = 300) => (text.length > max ? `${text.slice(0, max)}…` : text)

/** Runs every declared check in order (row_count, not_null, unique, assert_empty). */
export const check = (
  spark: SparkSession.Session,
  context: Context
): Effect.Effect<void, Failure.RuleFailure> => {
  const { expect, ruleId, operation } = context
  const view = quote(context.view)
  const classified = <A>(effect: Effect.Effect<A, SparkError.SparkError>, where: string) =>
    Classify.mapErrors(spark, { ruleId, phase: "expectation", where })(effect)
  const sample = (df: SparkSession.DataFrame) =>
    spark.streamRows(df, operation).pipe(Stream.take(sampleSize.detail), Stream.runCollect)
  const failed = (
    name: keyof typeof codes,
    summary: string,
    rows: ReadonlyArray<Rows.Row>
  ): Failure.ExpectationFailed => {
    const shown = rows.slice(0, sampleSize.message).map((r) => clip(renderRow(r)))
    return new Failure.ExpectationFailed({
      code: codes[name],
      ruleId,
      message: `rule "${ruleId}": expectation ${name} failed: ${summary}${shown.length > 0 ? `; e.g. ${shown.join(", ")}` : ""}`,
      engineDetail: [
        `expectation ${name} of rule "${ruleId}": ${summary}`,
        ...rows.map((r, i) => `row ${i + 1}: ${clip(renderRow(r), 2000)}`)
      ].join("\n")
    })
  }
  const query = (sql: string, params: Readonly<Record<string, SparkSession.ParamValue>> = {}) =>
    spark.sql(sql, { ...operation, params })
  const asNumber = (value: Rows.Value | undefined): number => Number(value ?? 0)

  return Effect.gen(function* () {
    if (expect.row_count !== undefined) {
      const { min, max } = expect.row_count
      const n = yield* classified(
        // The view as a plan (no round trip), counted in one ExecutePlan.
        spark.count(spark.table(view), operation),
        "expectation row_count"
      )
      if ((min !== undefined && n < BigInt(min)) || (max !== undefined && n > BigInt(max))) {
        const bounds = [min !== undefined ? `at least ${min}` : "", max !== undefined ? `at most ${max}` : ""]
          .filter((s) => s !== "")
          .join(" and ")
        return yield* failed("row_count", `${n} rows, expected ${bounds}`, [])
      }
    }
    if (expect.not_null !== undefined) {
      const columns = expect.not_null
      const anyNull = columns.map((c) => `${quote(c)} IS NULL`).join(" OR ")
      const counts = yield* classified(
        Effect.flatMap(query(notNullCounts(view, columns)), (df) => spark.collect(df, operation)),
        "expectation not_null"
      )
      const perColumn = columns.map((c, i) => [c, asNumber(counts[0]?.[`n${i}`])] as const)
      const offending = perColumn.filter(([, n]) => n > 0)
      if (offending.length > 0) {
        const rows = yield* classified(
          Effect.flatMap(query(`SELECT * FROM ${view} WHERE ${anyNull}`), sample),
          "expectation not_null"
        )
        const total = yield* classified(
          Effect.flatMap(query(`SELECT * FROM ${view} WHERE ${anyNull}`), (df) => spark.count(df, operation)),
          "expectation not_null"
        )
        return yield* failed(
          "not_null",
          `${total} rows with NULL in ${offending.map(([c, n]) => `${c} (${n})`).join(", ")}`,
          rows
        )
      }
    }
    if (expect.unique !== undefined) {
      const duplicates = duplicatesOf(view, expect.unique)
      const totals = yield* classified(
        Effect.flatMap(query(duplicateTotals(duplicates)), (df) => spark.collect(df, operation)),
        "expectation unique"
      )
      const keys = asNumber(totals[0]?.["keys"])
      if (keys > 0) {
        const rows = yield* classified(
          Effect.flatMap(query(`${duplicates} ORDER BY spark_etl_rows DESC`), sample),
          "expectation unique"
        )
        return yield* failed(
          "unique",
          `${keys} duplicate values of (${expect.unique.join(", ")}) over ${asNumber(totals[0]?.["rows"])} rows`,
          rows
        )
      }
    }
    if (expect.assert_empty !== undefined) {
      const sql = assertion(expect.assert_empty)
      const df = yield* classified(
        query(sql, Parameters.bind(sql, context.params)),
        "expectation assert_empty"
      )
      const n = yield* classified(spark.count(df, operation), "expectation assert_empty")
      if (n > 0n) {
        const rows = yield* classified(sample(df), "expectation assert_empty")
        return yield* failed("assert_empty", `the assertion query returned ${n} rows`, rows)
      }
    }
  })
}

/**
 * Analyses the checks without running them: the not_null and unique queries and the
 * assert_empty query go to Spark, which resolves them (a missing column fails as a SqlError)
 * and returns a plan, never a row. row_count needs only the view. An assertion that is not a
 * query is not sent: it is checked when the rule runs.
 */
export const analyse = (
  spark: SparkSession.Session,
  context: Context
): Effect.Effect<Plugin.Analysis, Failure.RuleFailure> => {
  const { expect, ruleId, operation } = context
  const view = quote(context.view)
  const analysed = (
    name: keyof typeof codes,
    sql: string,
    params: Readonly<Record<string, SparkSession.ParamValue>> = {}
  ) =>
    Classify.mapErrors(spark, { ruleId, phase: "expectation", where: `expectation ${name}` })(
      Effect.flatMap(spark.sql(sql, { ...operation, params }), spark.schema)
    )
  return Effect.gen(function* () {
    if (expect.not_null !== undefined) yield* analysed("not_null", notNullCounts(view, expect.not_null))
    if (expect.unique !== undefined) {
      yield* analysed("unique", duplicateTotals(duplicatesOf(view, expect.unique)))
    }
    if (expect.assert_empty !== undefined) {
      const sql = assertion(expect.assert_empty)
      const kind = Statements.classify(sql)
      if (kind._tag !== "Query") {
        return Plugin.notAnalysed(
          `expectation assert_empty is not a query (${kind._tag === "Command" ? kind.keyword : kind._tag}); preflight does not run it`
        )
      }
      yield* analysed("assert_empty", sql, Parameters.bind(sql, context.params))
    }
    return Plugin.analysed
  })
}
