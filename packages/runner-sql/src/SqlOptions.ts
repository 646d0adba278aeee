/**
 * The options of a `sql` rule, as written under `options:` in the batch file (snake_case),
 * decoded with Effect Schema. Every problem is reported with its path, e.g.
 * `rules[2].options.expect.row_count.min`.
 *
 * @example
 * options:
 *   file: sql/daily_totals.sql          # or: sql: "SELECT …"
 *   inputs:
 *     raw_orders: { path: data/orders.csv, format: csv, options: { header: true } }
 *   format: parquet                     # csv | json | orc; for a path target
 *   partition_by: [order_date]
 *   expect:
 *     row_count: { min: 1 }
 *     not_null: [order_date, total]
 *     unique: [order_date]
 *     assert_empty: SELECT * FROM daily_totals WHERE total < 0
 */
import * as Schema from "effect/Schema"

const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/

/** A data source option value; numbers and booleans are passed to Spark as their text. */
export const OptionValue = Schema.Union([Schema.String, Schema.Number, Schema.Boolean])

/** Data source options (`header: true`, `compression: snappy`…). */
export const DataSourceOptions = Schema.Record(Schema.String, OptionValue)

/** A file input registered as a temp view before the SQL runs. */
export const Input = Schema.Struct({
  /** Path of the file or directory; relative paths start at the batch file's directory. */
  path: Schema.NonEmptyString,
  /** Spark data source: parquet, csv, json, orc, text… */
  format: Schema.NonEmptyString,
  options: Schema.optionalKey(DataSourceOptions),
  /** A DDL schema (`id BIGINT, name STRING`); inferred when absent. */
  schema: Schema.optionalKey(Schema.NonEmptyString)
})
export type Input = typeof Input.Type

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/** Bounds on the number of rows of the rule's result. */
export const RowCount = Schema.Struct({
  min: Schema.optionalKey(Count),
  max: Schema.optionalKey(Count)
}).check(
  Schema.makeFilter((b) => {
    if (b.min === undefined && b.max === undefined) return "give min, max or both"
    if (b.min !== undefined && b.max !== undefined && b.min > b.max)
      return { path: ["max"], issue: `max (${b.max}) is below min (${b.min})` }
    return undefined
  })
)

const Columns = Schema.Array(Schema.NonEmptyString).check(
  Schema.isMinLength(1, { message: "give at least one column" })
)

/** Inputs by view name; a bad name is reported at its own key. */
export const Inputs = Schema.Record(Schema.String, Input).check(
  Schema.makeFilter((inputs) =>
    Object.keys(inputs)
      .filter((name) => !identifier.test(name))
      .map((name) => ({
        path: [name],
        issue: `"${name}" cannot name a view: use letters, digits and '_', not starting with a digit`
      }))
  )
)

/** Checks on the rule's result; any failure fails the rule as a logical inconsistency. */
export const Expect = Schema.Struct({
  row_count: Schema.optionalKey(RowCount),
  /** Columns that must never be NULL. */
  not_null: Schema.optionalKey(Columns),
  /** Columns that together form a key: no two rows share their values. */
  unique: Schema.optionalKey(Columns),
  /** A query that must return no rows (it may use the rule's view and parameters). */
  assert_empty: Schema.optionalKey(Schema.NonEmptyString)
})
export type Expect = typeof Expect.Type

/** Save modes of a write, in batch-file spelling. */
export const Mode = Schema.Literals(["overwrite", "append", "error_if_exists", "ignore"])
export type Mode = typeof Mode.Type

/** The options of a `sql` rule. */
export const SqlOptions = Schema.Struct({
  /** Inline SQL; several statements separated by `;` (exclusive with `file`). */
  sql: Schema.optionalKey(Schema.NonEmptyString),
  /** A SQL file, relative to the batch file's directory (exclusive with `sql`). */
  file: Schema.optionalKey(Schema.NonEmptyString),
  /** Files to register as temp views, by view name. */
  inputs: Schema.optionalKey(Inputs),
  /** Format of the target; default parquet for a path, the session's default for a new table. */
  format: Schema.optionalKey(Schema.Literals(["parquet", "csv", "json", "orc"])),
  /** Save mode of the target; default overwrite. */
  mode: Schema.optionalKey(Mode),
  /** Partition columns of the target (a new table's partitioning with save_as_table). */
  partition_by: Schema.optionalKey(Columns),
  /** Options of the writer (`compression`, `header`…). */
  write_options: Schema.optionalKey(DataSourceOptions),
  /** How a table target is written; default save_as_table (the target is then a table name). */
  table: Schema.optionalKey(Schema.Literals(["save_as_table", "insert_into"])),
  expect: Schema.optionalKey(Expect),
  /**
   * Compute the result once, in this rule (`CACHE TABLE`), and reuse it for the expectations,
   * the write and dependent rules; default false. Without it a rule with neither target nor
   * expectations only defines its view, and its query runs inside the rules that read it.
   */
  cache: Schema.optionalKey(Schema.Boolean)
}).check(
  Schema.makeFilter((o) => {
    if (o.sql !== undefined && o.file !== undefined)
      return { path: ["file"], issue: 'give either "sql" or "file", not both' }
    if (o.sql === undefined && o.file === undefined) return 'give the rule\'s SQL as "sql" or "file"'
    if (o.table === "insert_into" && o.partition_by !== undefined)
      return { path: ["partition_by"], issue: "insert_into writes with the table's own partitioning" }
    if (o.table === "insert_into" && o.format !== undefined)
      return { path: ["format"], issue: "insert_into writes in the table's own format" }
    return undefined
  })
)
export type SqlOptions = typeof SqlOptions.Type

/** Data source option values as the strings Spark takes. */
export const optionStrings = (
  options: Readonly<Record<string, string | number | boolean>> | undefined
): Readonly<Record<string, string>> =>
  Object.fromEntries(Object.entries(options ?? {}).map(([k, v]) => [k, String(v)]))
