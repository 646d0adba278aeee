/**
 * The options Spark's JDBC data source gets for a rule: the URL, the user and the password as
 * data-source options — never in SQL text. The password is revealed here only, from its secret
 * parameter; Spark redacts option keys named password in its plans, UI and logs
 * (`spark.redaction.regex`), and core scrubs its value from any failure text.
 */
import { Failure, Parameter } from "@spark-etl/core"
import * as Result from "effect/Result"
import type * as JdbcOptions from "../JdbcOptions.js"
import * as Url from "./url.js"

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

// The options of Spark's JDBC data source (4.2), whose names Spark reads in any case. Any other
// key of `connection_options` is a property of the driver.
const sparkJdbcOptions: ReadonlySet<string> = new Set(
  [
    "url",
    "dbtable",
    "query",
    "driver",
    "partitionColumn",
    "lowerBound",
    "upperBound",
    "numPartitions",
    "queryTimeout",
    "fetchsize",
    "truncate",
    "cascadeTruncate",
    "createTableOptions",
    "createTableColumnTypes",
    "customSchema",
    "batchsize",
    "isolationLevel",
    "sessionInitStatement",
    "pushDownPredicate",
    "pushDownAggregate",
    "pushDownJoin",
    "pushDownLimit",
    "pushDownOffset",
    "pushDownTableSample",
    "keytab",
    "principal",
    "tableComment",
    "refreshKrb5Config",
    "connectionProvider",
    "prepareQuery",
    "preferTimestampNTZ",
    "hint"
  ].map((name) => name.toLowerCase())
)

/** A connection's options for Spark's JDBC source; it always names the URL. */
export type SparkOptions = Readonly<Record<string, string>> & { readonly url: string }

/**
 * The connection's data-source options (url, user, password, driver, extra options). On
 * PostgreSQL the driver's own properties among the extra options are in the URL.
 */
export const sparkOptions = (
  options: JdbcOptions.JdbcOptions,
  parameters: Parameter.Values,
  ruleId: string
): Result.Result<SparkOptions, Failure.Defect> =>
  Result.gen(function* () {
    const user =
      options.user === undefined
        ? undefined
        : typeof options.user === "string"
          ? options.user
          : yield* param(parameters, options.user, ruleId)
    const password =
      options.password === undefined ? undefined : yield* param(parameters, options.password, ruleId)
    const extra = Object.entries(options.connection_options ?? {}).map(([k, v]) => [k, asText(v)] as const)
    const inUrl = (key: string) => Url.isPostgres(options.url) && !sparkJdbcOptions.has(key.toLowerCase())
    return {
      ...Object.fromEntries(extra.filter(([k]) => !inUrl(k))),
      url: Url.withParameters(
        options.url,
        extra.filter(([k]) => inUrl(k))
      ),
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
