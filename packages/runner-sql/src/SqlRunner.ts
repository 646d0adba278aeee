/**
 * The runner of rule kind `sql`. A rule's SQL (inline or from a file) runs on the Spark
 * session in order: its file inputs are registered as temp views; every statement but the
 * last runs as a command; the last one's result becomes a temp view named after the rule (so
 * dependent rules `SELECT … FROM <rule id>`), is checked against the rule's expectations, and
 * is written to the rule's target, if it has one. Bad data therefore never reaches a target.
 *
 * Before the batch touches any target, `prepare` applies the batch's engine settings to the
 * session and `preflight` analyses each rule without executing it (see Preflight). A resumed
 * run `restore`s each rule it skips instead (see Restore) — its view read back from its output
 * or defined again — and skips it only while its `fingerprint` (its SQL file, the parameters it
 * binds; see Fingerprint) is the one its checkpoint holds.
 *
 * Batch parameters reach Spark only as bound parameters. Every operation carries the tag
 * `spark-etl-<runId>-<ruleId>`; when the rule is interrupted (a failed sibling, a deadline, a
 * signal) the runner interrupts that tag on the server first, then stops its own streams.
 *
 * @example
 * import { Plugin } from "@spark-etl/core"
 * import { SqlRunner } from "@spark-etl/runner-sql"
 * const registry = Plugin.layer([Plugin.load(SqlRunner.runner)]) // needs a SparkSession
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { Failure, Plugin } from "@spark-etl/core"
import * as SparkError from "@spark-etl/runner-spark-connect/SparkError"
import * as SparkSession from "@spark-etl/runner-spark-connect/SparkSession"
import * as Classify from "./Classify.js"
import * as Expectations from "./Expectations.js"
import * as Fingerprint from "./Fingerprint.js"
import * as Parameters from "./Parameters.js"
import * as Preflight from "./Preflight.js"
import * as Restore from "./Restore.js"
import * as SparkPathStore from "./SparkPathStore.js"
import * as SparkTableStore from "./SparkTableStore.js"
import * as SqlOptions from "./SqlOptions.js"
import * as Statements from "./Statements.js"
import * as Script from "./internal/script.js"
import * as Target from "./internal/target.js"
import { validate } from "./internal/validate.js"

/** The options of a `sql` rule (see SqlOptions). */
export type Options = SqlOptions.SqlOptions

/** The operation tag of a rule's Spark work: `spark-etl-<runId>-<ruleId>` (`Plugin.operationTag`). */
export const tagFor = Plugin.operationTag

// The rule's work runs in a child fiber so that, on interruption, the server is told first (by
// tag: every operation of the rule, including one just starting) and the client's streams are
// torn down after; the other order would leave a window where the query runs on.
const onServerInterruptible = <A>(
  runId: string,
  ruleId: string,
  work: (
    spark: SparkSession.Session,
    operation: SparkSession.OperationOptions
  ) => Effect.Effect<A, Failure.RuleFailure>
): Effect.Effect<A, Failure.RuleFailure, SparkSession.SparkSession> =>
  Effect.gen(function* () {
    const spark = yield* SparkSession.SparkSession
    const tag = tagFor(runId, ruleId)
    const fiber = yield* Effect.forkChild(work(spark, { tags: [tag] }), { startImmediately: true })
    return yield* Fiber.join(fiber).pipe(
      Effect.onInterrupt(() =>
        Effect.andThen(SparkSession.stopTagged(spark, tag, `rule ${ruleId}`), Fiber.interrupt(fiber))
      )
    )
  }).pipe(Effect.annotateLogs({ rule: ruleId }))

const run =
  (views: Preflight.Views, ruleViews: Preflight.RuleViews) =>
  (ctx: Plugin.RunContext<Options>): Effect.Effect<void, Failure.RuleFailure, SparkSession.SparkSession> =>
    onServerInterruptible(ctx.runId, ctx.rule.id, (spark, operation) =>
      body(spark, views, ruleViews, ctx, operation)
    )

// Before a retry: every operation of the rule still on the server (the failed attempt's) is
// interrupted by its tag, so a late write of it cannot land after the target is emptied again.
const abandon = (ctx: Plugin.RunContext<Options>): Effect.Effect<void, never, SparkSession.SparkSession> =>
  Effect.flatMap(SparkSession.SparkSession, (spark) =>
    Effect.asVoid(SparkSession.stopTagged(spark, tagFor(ctx.runId, ctx.rule.id), `rule ${ctx.rule.id}`))
  )

const preflight =
  (views: Preflight.Views, ruleViews: Preflight.RuleViews) =>
  (
    ctx: Plugin.PreflightContext<Options>
  ): Effect.Effect<Plugin.Analysis, Failure.RuleFailure, SparkSession.SparkSession> =>
    onServerInterruptible(ctx.runId, ctx.rule.id, (spark, operation) =>
      Preflight.analyse(spark, views, ruleViews, ctx, operation)
    )

const restore = (
  ctx: Plugin.RestoreContext<Options>
): Effect.Effect<Plugin.Restoration, Failure.RuleFailure, SparkSession.SparkSession> =>
  onServerInterruptible(ctx.runId, ctx.rule.id, (spark, operation) => Restore.restore(spark, ctx, operation))

// Spark's own redaction pattern (spark.redaction.regex): these values stay out of the log.
const secretKey = /secret|password|token|access[.]key/i

/** Applies the batch's engine settings (`engine.settings`) to the session, once per run. */
const prepare = (
  ctx: Plugin.PrepareContext
): Effect.Effect<void, Failure.RuleFailure, SparkSession.SparkSession> =>
  Effect.gen(function* () {
    const settings = ctx.batch.settings
    const keys = Object.keys(settings).sort()
    if (keys.length === 0) return
    const spark = yield* SparkSession.SparkSession
    yield* spark
      .setConf(settings)
      .pipe(Classify.mapErrors(spark, { phase: "settings", where: `engine settings (${keys.join(", ")})` }))
    yield* Effect.logInfo(
      `engine settings applied: ${keys.map((k) => `${k}=${secretKey.test(k) ? "*****" : settings[k]}`).join(", ")}`
    )
  })

const body = (
  spark: SparkSession.Session,
  views: Preflight.Views,
  ruleViews: Preflight.RuleViews,
  ctx: Plugin.RunContext<Options>,
  operation: SparkSession.OperationOptions
): Effect.Effect<void | Plugin.Committed, Failure.RuleFailure> =>
  Effect.gen(function* () {
    const { options, rule, batch } = ctx
    const classified = (phase: Classify.Phase, where?: string) =>
      Classify.mapErrors(spark, { ruleId: rule.id, phase, ...(where !== undefined ? { where } : {}) })

    const script = yield* Script.load(options, batch.dir, rule.id)
    const statements = Statements.split(script.text)
    const last = statements[statements.length - 1]
    if (last === undefined) {
      return yield* new Failure.SqlError({
        code: "SQL_EMPTY",
        message: `rule "${rule.id}" has no SQL statement`,
        ruleId: rule.id
      })
    }

    for (const [view, input] of Object.entries(options.inputs ?? {})) {
      const df = spark.read({
        format: input.format,
        paths: [Script.resolvePath(batch.dir, input.path)],
        options: SqlOptions.optionStrings(input.options),
        ...(input.schema !== undefined ? { schema: input.schema } : {})
      })
      yield* spark
        .createTempView(df, view, { ...operation, replace: true })
        .pipe(classified("input", `input ${view} (${input.path})`))
    }

    const where = (s: Statements.Statement, i: number) => Script.where(script, s, i)
    const send = (s: Statements.Statement, i: number) =>
      Effect.flatMap(Preflight.forRun(views, ctx.runId, rule.id, s.sql), (sql) =>
        spark
          .sql(sql, { ...operation, params: Parameters.bind(s.sql, batch.parameters) })
          .pipe(classified("sql", where(s, i)))
      )
    for (const [i, s] of statements.slice(0, -1).entries()) yield* send(s, i)
    const lastWhere = where(last, statements.length - 1)
    const query = Statements.classify(last.sql)._tag === "Query"
    // The view preflight defined by this query's text resolves it anew at each use: kept. The
    // checks and the write below use it; with neither, it is resolved here, so what went away
    // since preflight still fails this rule, as SQL.
    if (query && (yield* ruleViews.take(ctx.runId, rule.id, last.sql))) {
      if (options.expect === undefined && rule.target === undefined)
        yield* spark.schema(spark.table(rule.id)).pipe(classified("sql", lastWhere))
    } else {
      // A query is its own plan (Spark returns a query's text as its relation): no round trip.
      const result = query
        ? spark.query(last.sql, Parameters.bind(last.sql, batch.parameters))
        : yield* send(last, statements.length - 1)
      // Creating the view analyses the plan, so a missing column surfaces here as a SQL error.
      yield* spark
        .createTempView(result, rule.id, { ...operation, replace: true })
        .pipe(classified("sql", lastWhere))
    }

    if (options.cache === true) {
      yield* spark
        .sql(`CACHE TABLE ${Expectations.quote(rule.id)}`, operation)
        .pipe(classified("sql", lastWhere))
    }

    if (options.expect !== undefined) {
      yield* Expectations.check(spark, {
        ruleId: rule.id,
        view: rule.id,
        expect: options.expect,
        params: batch.parameters,
        operation
      })
    }

    const target = rule.target
    const problem = Target.optionsProblem(rule.id, target, options)
    if (problem !== undefined) return yield* problem
    if (target === undefined) return
    const tableTarget = Target.isTable(target)
    const mode = saveModes[options.mode ?? "overwrite"]
    const method = options.table ?? "save_as_table"
    const write: SparkSession.WriteOptions = tableTarget
      ? {
          mode,
          ...(options.format !== undefined ? { format: options.format } : {}),
          ...(options.partition_by !== undefined ? { partitionBy: options.partition_by } : {}),
          options: SqlOptions.optionStrings(options.write_options),
          target:
            method === "save_as_table" ? { saveAsTable: target.location } : { insertInto: target.location }
        }
      : {
          mode,
          format: options.format ?? "parquet",
          ...(options.partition_by !== undefined ? { partitionBy: options.partition_by } : {}),
          options: SqlOptions.optionStrings(options.write_options),
          target: { path: target.location }
        }
    yield* spark
      .write(spark.table(rule.id), write, operation)
      .pipe(classified("write", `writing target ${target.declared}`))
    // The output's schema goes with the checkpoint: a resume reads the output back with it, so
    // Spark infers nothing (no job) and the columns keep the result's order. Without it the
    // resume only infers; but a server that no longer answers fails the rule here (the batch
    // meets it at its next call anyway, after spending another connection budget there).
    const columns = yield* spark.schema(spark.table(rule.id)).pipe(
      Effect.map(Option.some),
      Effect.catchIf(
        (e) => SparkError.category[e._tag] === "capturable",
        () => Effect.succeed(Option.none())
      ),
      classified("write", `after writing target ${target.declared} (reading its schema for the checkpoint)`)
    )
    return Option.isSome(columns) ? Restore.note(columns.value) : undefined
  })

const saveModes: Record<SqlOptions.Mode, SparkSession.SaveMode> = {
  overwrite: "overwrite",
  append: "append",
  error_if_exists: "errorIfExists",
  ignore: "ignore"
}

/** How the runner is assembled. */
export interface Config {
  /** The Spark table store it brings (`targets.store: spark-table`); default: truncate. */
  readonly tables?: SparkTableStore.Config
}

/** A `sql` runner with the given configuration. */
export const make = (config: Config = {}): Plugin.Runner<Options, SparkSession.SparkSession> => {
  const views = Preflight.makeViews()
  const ruleViews = Preflight.makeRuleViews()
  return Plugin.make({
    kind: "sql",
    options: SqlOptions.SqlOptions,
    validate,
    run: run(views, ruleViews),
    prepare,
    preflight: preflight(views, ruleViews),
    preflightIsolated: Preflight.isolated,
    fingerprint: Fingerprint.of,
    restore,
    abandon,
    targetStore: SparkTableStore.make(config.tables),
    targetStores: [SparkPathStore.make]
  })
}

/** The `sql` rule kind, its table targets truncated before the batch. */
export const runner: Plugin.Runner<Options, SparkSession.SparkSession> = make()
