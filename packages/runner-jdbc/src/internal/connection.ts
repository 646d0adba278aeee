/**
 * The options Spark's JDBC data source gets for a rule: the URL, the user and the password as
 * data-source options — never in SQL text. The password is revealed here only, from its secret
 * parameter; Spark redacts option keys named password in its plans, UI and logs
 * (`spark.redaction.regex`), and core scrubs its value from any failure text.
 */
import { Failure, Parameter } from "@spark-etl/core"
import * as Result from "effect/Result"
import type * as JdbcOptions from "../JdbcOptions.js"

const asText = (v: string | number | boolean): string => String(v)

// A parameter's value; validation guaranteed it is declared, so a missing one is a defect.
const param = (
  parameters: Parameter.Values,
  ref: JdbcOptions.ParamRef,
  ruleId: string
): Result.Result<string, Failure.Defect> => {
  const value = parameters[ref.param]
  return value === undefined
    ? Result.fail(
        new Failure.Defect({ message: `rule "${ruleId}": parameter "${ref.param}" has no value`, ruleId })
      )
    : Result.succeed(asText(Parameter.reveal(value)))
}

/**
 * The batch parameters a rule uses: those its user and password name. Nothing else of the
 * options is a parameter — a `read.query` goes to the database as written — so a checkpoint
 * of the rule depends on these alone.
 */
export const parameters = (options: JdbcOptions.JdbcOptions): ReadonlyArray<string> => [
  ...(typeof options.user === "object" ? [options.user.param] : []),
  ...(options.password !== undefined ? [options.password.param] : [])
]

/** The connection's data-source options (url, user, password, driver, extra options). */
export const sparkOptions = (
  options: JdbcOptions.JdbcOptions,
  parameters: Parameter.Values,
  ruleId: string
): Result.Result<Readonly<Record<string, string>>, Failure.Defect> =>
  Result.gen(function* () {
    const user =
      options.user === undefined
        ? undefined
        : typeof options.user === "string"
          ? options.user
          : yield* param(parameters, options.user, ruleId)
    const password =
      options.password === undefined ? undefined : yield* param(parameters, options.password, ruleId)
    return {
      ...Object.fromEntries(Object.entries(options.connection_options ?? {}).map(([k, v]) => [k, asText(v)])),
      url: options.url,
      ...(user !== undefined ? { user } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(options.driver !== undefined ? { driver: options.driver } : {})
    }
  })

/** The options of a read: what to read and how to split it. */
export const readOptions = (read: JdbcOptions.Read): Readonly<Record<string, string>> => ({
  ...(read.table !== undefined ? { dbtable: read.table } : {}),
  ...(read.query !== undefined ? { query: read.query } : {}),
  ...(read.fetch_size !== undefined ? { fetchsize: String(read.fetch_size) } : {}),
  ...(read.partition !== undefined
    ? {
        partitionColumn: read.partition.column,
        lowerBound: String(read.partition.lower_bound),
        upperBound: String(read.partition.upper_bound),
        numPartitions: String(read.partition.num_partitions)
      }
    : {})
})

/**
 * The options of Spark's write: into the table, truncated (never dropped) by an overwrite; or,
 * staged, appended to the staging table.
 */
export const writeOptions = (
  write: JdbcOptions.Write,
  into: { readonly table: string; readonly truncate: boolean }
): Readonly<Record<string, string>> => ({
  dbtable: into.table,
  ...(into.truncate ? { truncate: "true" } : {}),
  ...(write.batch_size !== undefined ? { batchsize: String(write.batch_size) } : {}),
  ...(write.num_partitions !== undefined ? { numPartitions: String(write.num_partitions) } : {})
})

/** What the rule reads or writes, for messages: `table public.orders`, `query`. */
export const describe = (options: JdbcOptions.JdbcOptions): string =>
  options.read !== undefined
    ? options.read.table !== undefined
      ? `reading table ${options.read.table}`
      : "reading its query"
    : `writing table ${options.write?.table ?? "?"}`
