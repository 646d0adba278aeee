/**
 * Stopping a rule's statements in the database. Spark's cancel interrupts its task threads, but
 * a JDBC statement blocked on the socket does not notice: the database would run a long read or
 * insert to its end. Each rule's connections therefore carry an application name of their own,
 * and on interruption the runner asks PostgreSQL to cancel the backends bearing it (a role may
 * cancel its own backends). Other databases are not told (see the README).
 */
import { createHash } from "node:crypto"
import * as Effect from "effect/Effect"
import type { SparkSession } from "@spark-etl/runner-spark-connect"
import * as Url from "./url.js"

/**
 * PostgreSQL keeps 63 bytes of an application name: the rule's id, shortened, and a hash of
 * the run and the rule. Only URL-safe characters: it travels in the URL.
 */
export const applicationName = (runId: string, ruleId: string): string =>
  `spark-etl.${ruleId.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 30)}.${createHash("sha256")
    .update(`${runId}\u0000${ruleId}`)
    .digest("hex")
    .slice(0, 16)}`

/**
 * The URL naming the rule's connections. In the URL, because Spark hands the driver its options
 * with their keys lower-cased, and pgjdbc's `ApplicationName` is case-sensitive.
 */
export const namedUrl = (url: string, name: string): string =>
  Url.withParameters(url, [["ApplicationName", name]])

/**
 * Cancels the rule's running statements in PostgreSQL, through Spark's JDBC source with the
 * rule's own connection options. The name is ours (letters, digits, `_.-`): safe in
 * the query's literal.
 */
export const cancelInPostgres = (
  spark: SparkSession.Session,
  connection: Readonly<Record<string, string>>,
  name: string
): Effect.Effect<void> =>
  spark
    .collect(
      spark.read({
        format: "jdbc",
        paths: [],
        options: {
          ...connection,
          query: `SELECT count(pg_cancel_backend(pid)) AS cancelled FROM pg_stat_activity WHERE application_name = '${name}' AND pid <> pg_backend_pid()`
        }
      })
    )
    .pipe(
      Effect.flatMap((rows) =>
        Effect.logInfo(
          `cancelled ${String(rows[0]?.["cancelled"] ?? 0)} statement(s) in PostgreSQL (${name})`
        )
      ),
      Effect.catch((e) => Effect.logWarning(`cancelling in PostgreSQL failed: ${e.message}`))
    )
