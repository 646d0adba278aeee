/**
 * The runner of rule kind `jdbc`, through Spark's own JDBC data source on the batch's Spark
 * session (the database's driver must be on the Spark server's classpath).
 *
 * - A read rule (`read:`) makes a table or a query of the database a temp view named after
 *   the rule, so dependent rules `SELECT … FROM <rule id>`; with `cache: true` the database is
 *   read once, in the rule. With a `target` the rows are also written there as a `sql` rule
 *   with default options writes (a path: parquet, overwrite; a table: saveAsTable, overwrite).
 * - A write rule (`write:`) loads the view of another rule (`from`, one of its `depends_on`)
 *   into an existing table, whose definition is kept: `TRUNCATE TABLE`, then inserts (Spark's
 *   overwrite with `truncate=true`); or, staged (`atomic: true`, `mode: delete_key_range`),
 *   into a staging table first, then one transaction replaces the rows (internal/staged). See
 *   the README for what is atomic.
 *
 * A resumed run that skips a rule `restore`s it instead of preflighting it: a read rule's view
 * is its target read back, or (without a target) defined again; a write rule has nothing to
 * restore. Its `fingerprint` is its options and the parameters its user and password name.
 *
 * Credentials are data-source options; the password only ever comes from a secret parameter.
 * Every Spark operation carries the tag `spark-etl-<runId>-<ruleId>`; when the rule is
 * interrupted the runner interrupts that tag on the server first, then stops its own streams.
 *
 * @example
 * import { Plugin } from "@spark-etl/core"
 * import { JdbcRunner } from "@spark-etl/runner-jdbc"
 * const registry = Plugin.layer([Plugin.load(JdbcRunner.runner)]) // needs a SparkSession
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { Failure, Plugin } from "@spark-etl/core"
import type { TargetStore } from "@spark-etl/core"
import type { SparkSession } from "@spark-etl/runner-spark-connect"
import * as Classify from "./Classify.js"
import * as JdbcOptions from "./JdbcOptions.js"
import * as Cancel from "./internal/cancel.js"
import * as Connection from "./internal/connection.js"
import * as Url from "./internal/url.js"
import { abandon as abandonRule, interruptible } from "./internal/interruptible.js"
import * as Staged from "./internal/staged.js"
import { validate } from "./internal/validate.js"

/** The options of a `jdbc` rule (see JdbcOptions). */
export type Options = JdbcOptions.JdbcOptions

const quote = (name: string): string => `\`${name.replaceAll("`", "``")}\``

// The filesystem store gives paths (absolute, or URIs), the spark-table store table names.
const isPath = (location: string): boolean =>
  location.startsWith("/") || /^[a-z][a-z0-9+.-]*:\//i.test(location)

/** What a step of the rule needs: the session, the rule's operation tag and its context. */
interface Step {
  readonly spark: SparkSession.Session
  readonly operation: SparkSession.OperationOptions
  readonly ctx: Plugin.RunContext<Options>
  readonly connection: Readonly<Record<string, string>>
}

const classified = (step: Step, phase: Classify.Phase) =>
  Classify.mapErrors(step.spark, {
    ruleId: step.ctx.rule.id,
    phase,
    where: Connection.describe(step.ctx.options)
  })

// Defining the view makes Spark ask the database for the result's columns (`WHERE 1=0`): a
// missing table or column, refused credentials or an unreachable database fail here.
const defineView = (step: Step, read: JdbcOptions.Read): Effect.Effect<void, Failure.RuleFailure> => {
  const df = step.spark.read({
    format: "jdbc",
    paths: [],
    options: { ...step.connection, ...Connection.readOptions(read) }
  })
  return step.spark
    .createTempView(df, step.ctx.rule.id, { ...step.operation, replace: true })
    .pipe(classified(step, "read"))
}

const runRead = (step: Step, read: JdbcOptions.Read): Effect.Effect<void, Failure.RuleFailure> =>
  Effect.gen(function* () {
    const { spark, operation, ctx } = step
    yield* defineView(step, read)
    if (read.cache === true) {
      yield* spark.sql(`CACHE TABLE ${quote(ctx.rule.id)}`, operation).pipe(classified(step, "read"))
    }
    const target = ctx.rule.target
    if (target === undefined) return
    yield* spark
      .write(
        spark.table(ctx.rule.id),
        isPath(target.location)
          ? { mode: "overwrite", format: "parquet", target: { path: target.location } }
          : { mode: "overwrite", target: { saveAsTable: target.location } },
        operation
      )
      .pipe(
        Classify.mapErrors(spark, {
          ruleId: ctx.rule.id,
          phase: "write",
          where: `writing target ${target.declared}`
        })
      )
  })

// `from` must be a dependency, or the view may not exist yet (or be yesterday's).
const checkFrom = (ctx: Plugin.RunContext<Options>, write: JdbcOptions.Write) =>
  ctx.rule.dependsOn.includes(write.from)
    ? Effect.void
    : Effect.fail(
        new Failure.TargetError({
          code: "JDBC_FROM_NOT_A_DEPENDENCY",
          message: `rule "${ctx.rule.id}" writes the view of rule "${write.from}", which is not in its depends_on (${ctx.rule.dependsOn.join(", ") || "none"})`,
          ruleId: ctx.rule.id
        })
      )

// Asks the database for the table's columns: Spark's overwrite would otherwise create a
// missing table with types of its own choosing, and a typo would load a new table. A
// `delete_key_range` key must be one of them.
const checkTable = (step: Step, write: JdbcOptions.Write) =>
  step.spark
    .schema(
      step.spark.read({ format: "jdbc", paths: [], options: { ...step.connection, dbtable: write.table } })
    )
    .pipe(
      classified(step, "write"),
      Effect.flatMap((columns) => {
        const key = write.key
        return key === undefined || columns.some((c) => c.name.toLowerCase() === key.toLowerCase())
          ? Effect.void
          : Effect.fail(
              new Failure.TargetError({
                code: "JDBC_KEY_NOT_A_COLUMN",
                message: `rule "${step.ctx.rule.id}": key "${key}" is not a column of table ${write.table} (columns: ${columns.map((c) => c.name).join(", ")})`,
                ruleId: step.ctx.rule.id
              })
            )
      })
    )

// Spark's JDBC write of the `from` view: into the table itself, or into the staging table.
const load = (
  step: Step,
  write: JdbcOptions.Write,
  into: { readonly table: string; readonly truncate: boolean }
) =>
  step.spark
    .write(
      step.spark.table(write.from),
      {
        format: "jdbc",
        mode: into.truncate ? "overwrite" : "append",
        options: { ...step.connection, ...Connection.writeOptions(write, into) },
        // Spark Connect's client here always names a save target; JDBC ignores an empty path.
        target: { path: "" }
      },
      step.operation
    )
    .pipe(classified(step, "write"))

// Staged: the rows to a fresh staging table, then one transaction replaces (see internal/staged).
const loadStaged = (step: Step, write: JdbcOptions.Write) => {
  const stage = Staged.stageName(write.table)
  const execute = (statements: string) =>
    Staged.execute(step.spark, step.connection, statements, step.operation).pipe(classified(step, "write"))
  return Effect.andThen(
    execute(Staged.prepare(write.table, stage)),
    Effect.andThen(load(step, write, { table: stage, truncate: false }), execute(Staged.swap(write, stage)))
  )
}

const runWrite = (step: Step, write: JdbcOptions.Write): Effect.Effect<void, Failure.RuleFailure> =>
  Effect.gen(function* () {
    yield* checkFrom(step.ctx, write)
    yield* checkTable(step, write)
    yield* JdbcOptions.isStaged(write)
      ? loadStaged(step, write)
      : load(step, write, { table: write.table, truncate: true })
  })

// The rule's work with its connection options, stoppable in Spark and in the database.
const withRule = <A>(
  ctx: Plugin.RunContext<Options>,
  work: (step: Step) => Effect.Effect<A, Failure.RuleFailure>
): Effect.Effect<A, Failure.RuleFailure, SparkSession.SparkSession> => {
  const connection = Connection.sparkOptions(ctx.options, ctx.batch.parameters, ctx.rule.id)
  if (Result.isFailure(connection)) return Effect.fail(connection.failure)
  const name = Cancel.applicationName(ctx.runId, ctx.rule.id)
  return interruptible(
    ctx.runId,
    ctx.rule.id,
    (spark, operation) =>
      work({
        spark,
        operation,
        ctx,
        connection: Url.isPostgres(ctx.options.url)
          ? { ...connection.success, url: Cancel.namedUrl(connection.success.url, name) }
          : connection.success
      }),
    (spark) =>
      Url.isPostgres(ctx.options.url) ? Cancel.cancelInPostgres(spark, connection.success, name) : Effect.void
  )
}

const run = (
  ctx: Plugin.RunContext<Options>
): Effect.Effect<void, Failure.RuleFailure, SparkSession.SparkSession> =>
  withRule(ctx, (step) =>
    ctx.options.read !== undefined
      ? runRead(step, ctx.options.read)
      : ctx.options.write !== undefined
        ? runWrite(step, ctx.options.write)
        : Effect.void
  )

/**
 * Before any target is cleaned: a read rule defines its view (the database is asked for its
 * columns, nothing is read), so the rules that use it are analysed against it; a write rule
 * checks that `from` is a dependency whose view exists and that its table exists. Nothing is
 * written.
 */
const preflight = (
  ctx: Plugin.PreflightContext<Options>
): Effect.Effect<Plugin.Analysis, Failure.RuleFailure, SparkSession.SparkSession> =>
  withRule(ctx, (step) =>
    Effect.gen(function* () {
      const { spark } = step
      const { read, write } = ctx.options
      if (read !== undefined) yield* defineView(step, read)
      if (write !== undefined) {
        yield* checkFrom(ctx, write)
        yield* spark.schema(spark.table(write.from)).pipe(classified(step, "write"))
        yield* checkTable(step, write)
      }
      return Plugin.analysed
    })
  )

/**
 * Every jdbc rule may be analysed side by side with others (see Plugin.Runner.preflightIsolated):
 * a read rule defines only its own view, from the database, and a write rule reads only its
 * `from`, which must be one of its dependencies (`checkFrom` fails first otherwise), and asks
 * the database for its table. Neither sets anything in the session. Each analysis waits on the
 * database (Spark asks it for the columns), so side by side they wait at once.
 */
const preflightIsolated = (): Effect.Effect<boolean> => Effect.succeed(true)

// A read rule's view read back from its target: the rows it wrote, as the rules after it saw
// them. Spark resolves the view here, so an output that is gone fails (capturable: the rule
// then runs); the database is not asked.
const readBack = (
  ctx: Plugin.PreflightContext<Options>,
  target: TargetStore.Target
): Effect.Effect<Plugin.Restoration, Failure.RuleFailure, SparkSession.SparkSession> =>
  interruptible(ctx.runId, ctx.rule.id, (spark, operation) =>
    spark
      .createTempView(
        isPath(target.location)
          ? spark.read({ format: "parquet", paths: [target.location] })
          : spark.table(target.location),
        ctx.rule.id,
        { ...operation, replace: true }
      )
      .pipe(
        Classify.mapErrors(spark, {
          ruleId: ctx.rule.id,
          phase: "restore",
          where: `reading back target ${target.declared}`
        }),
        Effect.as(Plugin.restored)
      )
  )

/**
 * For a resumed run that skips the rule, in place of preflight; nothing is executed or written.
 *
 * - A read rule with a target: its view is the target read back (`readBack`).
 * - A read rule without one: its view is defined again as `run` defines it — a lazy read, the
 *   database asked for the columns only, no `CACHE` — so the rules after it read the database
 *   as they would had the rule run. A database that cannot be reached fails here as it would
 *   at preflight.
 * - A write rule: restored, doing nothing. It gives the rules after it no view; what it did is
 *   the table it loaded, which the resumed run leaves as the run resumed from left it (a rule
 *   that reads the table reads it from the database, as it would have).
 */
const restore = (
  ctx: Plugin.PreflightContext<Options>
): Effect.Effect<Plugin.Restoration, Failure.RuleFailure, SparkSession.SparkSession> => {
  const { read } = ctx.options
  if (read === undefined) return Effect.succeed(Plugin.restored)
  const target = ctx.rule.target
  return target !== undefined
    ? readBack(ctx, target)
    : withRule(ctx, (step) => Effect.as(defineView(step, read), Plugin.restored))
}

/** What defines the rule besides its options: no file; the parameters of its credentials. */
const fingerprint = (ctx: Plugin.ValidateContext<Options>): Effect.Effect<Plugin.Definition> =>
  Effect.succeed({ text: "", parameters: Connection.parameters(ctx.options) })

/** The `jdbc` rule kind. */
// Before a retry: the failed attempt's Spark operations, and its statements in PostgreSQL.
const abandon = (ctx: Plugin.RunContext<Options>): Effect.Effect<void, never, SparkSession.SparkSession> => {
  const connection = Connection.sparkOptions(ctx.options, ctx.batch.parameters, ctx.rule.id)
  const name = Cancel.applicationName(ctx.runId, ctx.rule.id)
  return abandonRule(ctx.runId, ctx.rule.id, (spark) =>
    Result.isSuccess(connection) && Url.isPostgres(ctx.options.url)
      ? Cancel.cancelInPostgres(spark, connection.success, name)
      : Effect.void
  )
}

export const runner: Plugin.Runner<Options, SparkSession.SparkSession> = Plugin.make({
  kind: "jdbc",
  options: JdbcOptions.JdbcOptions,
  validate,
  run,
  preflight,
  preflightIsolated,
  restore,
  fingerprint,
  abandon
})
