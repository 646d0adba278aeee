/**
 * The options of a `jdbc` rule, as written under `options:` in the batch file (snake_case),
 * decoded with Effect Schema. A rule either reads (`read:`) a table or a query into its view,
 * or writes (`write:`) another rule's view into a table; every problem is reported with its
 * path, e.g. `rules[2].options.read.query`.
 *
 * @example
 * options:
 *   url: jdbc:postgresql://db.internal:5432/shop
 *   user: etl_loader
 *   password: { param: db_password }    # a parameter declared secret: true (from its env variable)
 *   read:
 *     table: public.customers           # or query: SELECT id, name FROM public.customers WHERE active
 *     fetch_size: 10000
 *     partition: { column: id, lower_bound: 1, upper_bound: 1000000, num_partitions: 8 }
 *     cache: true
 */
import * as Schema from "effect/Schema"

/** A reference to a batch parameter: `{ param: db_password }`. */
export const ParamRef = Schema.Struct({ param: Schema.NonEmptyString })
export type ParamRef = typeof ParamRef.Type

const Positive = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))

/** Spark's column-range partitioning of a read: `num_partitions` queries, each on one stride. */
export const Partition = Schema.Struct({
  /** A numeric, date or timestamp column of the table or query. */
  column: Schema.NonEmptyString,
  lower_bound: Schema.Union([Schema.Int, Schema.NonEmptyString]),
  upper_bound: Schema.Union([Schema.Int, Schema.NonEmptyString]),
  num_partitions: Positive
})
export type Partition = typeof Partition.Type

/** Read a table or a query into the rule's temp view. */
export const Read = Schema.Struct({
  /** A table (or anything valid in a FROM clause), exclusive with `query`. */
  table: Schema.optionalKey(Schema.NonEmptyString),
  /** A query run by the database, exclusive with `table`. */
  query: Schema.optionalKey(Schema.NonEmptyString),
  /**
   * Rows per round trip (the driver's fetch size). Unset, Spark 4.2 fetches 1,000 rows at a time
   * from PostgreSQL; earlier versions read the whole result at once.
   */
  fetch_size: Schema.optionalKey(Positive),
  partition: Schema.optionalKey(Partition),
  /**
   * Read the database once, in this rule (`CACHE TABLE`), and reuse the rows for the target
   * and dependent rules; default false: every rule that reads the view queries the database.
   */
  cache: Schema.optionalKey(Schema.Boolean)
}).check(
  Schema.makeFilter((r) => {
    if (r.table !== undefined && r.query !== undefined)
      return { path: ["query"], issue: 'give either "table" or "query", not both' }
    if (r.table === undefined && r.query === undefined) return 'give what to read as "table" or "query"'
    if (r.query !== undefined && r.partition !== undefined)
      return {
        path: ["partition"],
        issue: 'Spark partitions a "table" read only; give the query as table: "(SELECT …) q"'
      }
    return undefined
  })
)
export type Read = typeof Read.Type

/**
 * How a write replaces the table's rows:
 * - `truncate`: every row. Without `atomic`, Spark's `TRUNCATE TABLE`, then its inserts.
 * - `delete_key_range`: the rows whose `key` lies between the smallest and the largest `key`
 *   of the rows loaded (a day, a month…), in the load's transaction (always staged).
 */
export const Mode = Schema.Literals(["truncate", "delete_key_range"])
export type Mode = typeof Mode.Type

/** Whether the write stages its rows and replaces in one transaction (see internal/staged). */
export const isStaged = (write: { readonly mode?: Mode; readonly atomic?: boolean }): boolean =>
  write.mode === "delete_key_range" || write.atomic === true

// A name PostgreSQL takes unquoted: the staged load writes it into its statements as given.
const plainName = /^[A-Za-z_][A-Za-z0-9_$]*$/
const plainTable = /^([A-Za-z_][A-Za-z0-9_$]*\.){0,2}[A-Za-z_][A-Za-z0-9_$]*$/

/** Load another rule's view into an existing table, replacing its rows. */
export const Write = Schema.Struct({
  /** The rule whose view is written; it must be in the rule's `depends_on`. */
  from: Schema.NonEmptyString,
  /** The existing table to load; its definition (columns, keys, grants) is kept. */
  table: Schema.NonEmptyString,
  /** Default truncate. */
  mode: Schema.optionalKey(Mode),
  /** The column whose range `delete_key_range` replaces. */
  key: Schema.optionalKey(Schema.NonEmptyString),
  /**
   * Stage the rows, then replace and insert them in one database transaction: readers see the
   * old rows until it commits, and a failed load changes nothing. Implied by `delete_key_range`.
   */
  atomic: Schema.optionalKey(Schema.Boolean),
  /** Rows per INSERT batch (Spark's default 1000). */
  batch_size: Schema.optionalKey(Positive),
  /** At most this many connections insert at once (Spark coalesces to it). */
  num_partitions: Schema.optionalKey(Positive)
}).check(
  Schema.makeFilter((w) => {
    const byRange = w.mode === "delete_key_range"
    if (byRange && w.key === undefined)
      return { path: ["key"], issue: 'mode "delete_key_range" needs the key column: key: <column>' }
    if (!byRange && w.key !== undefined)
      return { path: ["key"], issue: 'a key is only used by mode "delete_key_range"' }
    if (byRange && w.atomic === false)
      return { path: ["atomic"], issue: 'mode "delete_key_range" is always atomic' }
    if (w.key !== undefined && !plainName.test(w.key))
      return { path: ["key"], issue: "a column name of letters, digits and '_' (written unquoted)" }
    if (isStaged(w) && !plainTable.test(w.table))
      return {
        path: ["table"],
        issue:
          "a staged load needs a table name of letters, digits and '_', optionally schema-qualified (written unquoted)"
      }
    return undefined
  })
)
export type Write = typeof Write.Type

/** A driver option value; numbers and booleans are passed as their text. */
const OptionValue = Schema.Union([Schema.String, Schema.Number, Schema.Boolean])

// Options the rule sets itself, from its own fields.
const reserved = new Set([
  "url",
  "user",
  "password",
  "dbtable",
  "query",
  "driver",
  "partitioncolumn",
  "lowerbound",
  "upperbound",
  "numpartitions",
  "fetchsize",
  "batchsize",
  "truncate"
])

/** Further options of Spark's JDBC source or of the driver (`sslmode: require`…). */
export const ConnectionOptions = Schema.Record(Schema.String, OptionValue).check(
  Schema.makeFilter((options) =>
    Object.keys(options)
      .filter((key) => reserved.has(key.toLowerCase()) || /password|secret|token/i.test(key))
      .map((key) => ({
        path: [key],
        issue: /pass|secret|token/i.test(key)
          ? `"${key}" cannot be given here: a credential comes from a secret parameter ("password: { param: … }")`
          : `"${key}" is set by the rule's own options`
      }))
  )
)

/** The options of a `jdbc` rule. */
export const JdbcOptions = Schema.Struct({
  /** The JDBC URL, without credentials: `jdbc:postgresql://host:5432/db`. */
  url: Schema.String.check(
    Schema.isPattern(/^jdbc:[a-z0-9]+:/i, { message: "a JDBC URL: jdbc:<subprotocol>:…" })
  ).check(
    Schema.makeFilter((url) =>
      /[?&;:]password=/i.test(url)
        ? 'the URL must not hold a password: give it as "password: { param: … }"'
        : undefined
    )
  ),
  /** The database user: a name, or a parameter. */
  user: Schema.optionalKey(Schema.Union([Schema.NonEmptyString, ParamRef])),
  /** Only a secret batch parameter: `{ param: db_password }`. */
  password: Schema.optionalKey(ParamRef),
  /** The driver class, when the URL does not select it. */
  driver: Schema.optionalKey(Schema.NonEmptyString),
  connection_options: Schema.optionalKey(ConnectionOptions),
  read: Schema.optionalKey(Read),
  write: Schema.optionalKey(Write)
}).check(
  Schema.makeFilter((o) => {
    if (o.read !== undefined && o.write !== undefined)
      return { path: ["write"], issue: 'a rule either reads or writes: give "read" or "write", not both' }
    if (o.read === undefined && o.write === undefined) return 'give "read" (into the rule\'s view) or "write"'
    if (o.write !== undefined && isStaged(o.write) && !o.url.toLowerCase().startsWith("jdbc:postgresql:"))
      return {
        path: ["write", o.write.mode === "delete_key_range" ? "mode" : "atomic"],
        issue:
          "a staged load (atomic, delete_key_range) runs PostgreSQL's statements: the URL must be jdbc:postgresql:"
      }
    return undefined
  })
)
export type JdbcOptions = typeof JdbcOptions.Type
