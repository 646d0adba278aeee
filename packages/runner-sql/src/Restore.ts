/**
 * Restoring a `sql` rule that a resumed run skips: the run does not execute it, but the rules
 * after it still `SELECT … FROM <rule id>`, so its view is made again on the new session —
 * from what it left, never by running it, and writing nothing.
 *
 * - A rule with a target: its view is its output read back (a path in the rule's format, a
 *   table by name). Spark resolves it here, so an output that is gone (`PATH_NOT_FOUND`, an
 *   empty directory's `UNABLE_TO_INFER_SCHEMA`, a dropped table) fails as a capturable
 *   `TargetError`: core then runs the rule. Its `SET` statements are applied again, as they
 *   stay set once the rule ran; its inputs' and statements' temp views are not made (they
 *   would need its inputs): a rule that runs and reads one fails, loudly (not found). Not
 *   restorable: a `csv` or `json` output (read back, its columns would not have the result's
 *   types) and an `insert_into` (the table holds the rows under its own column names).
 * - A view-only rule: defined again as preflight defines it — inputs as temp views, its
 *   statements sent to Spark (analysed, nothing runs), the last one's result as the rule's view
 *   — but inputs are read from their files even when they are another rule's output (that rule
 *   was skipped too, so its output is there), a `SET` stays set as it does when the rule runs,
 *   and neither `CACHE` nor the expectations run. Not restorable: a rule with a command
 *   statement (what it did cannot be redone without running it), and one that reads another
 *   rule's target without depending on it (that rule may run now and rewrite it). A restore
 *   that fails drops the temp views it made and puts its `SET`s back, so the rule's preflight
 *   then starts from the session as it was.
 *
 * @example
 * const restoration = yield* Restore.restore(spark, ctx, { tags: [tag] })
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Failure, Plugin } from "@spark-etl/core"
import type { TargetStore } from "@spark-etl/core"
import type { SparkSession } from "@spark-etl/runner-spark-connect"
import * as Classify from "./Classify.js"
import * as Expectations from "./Expectations.js"
import * as Parameters from "./Parameters.js"
import * as Preflight from "./Preflight.js"
import * as SqlOptions from "./SqlOptions.js"
import * as Statements from "./Statements.js"
import * as Script from "./internal/script.js"
import * as Target from "./internal/target.js"

/** What a rule's run notes with its checkpoint: its output's schema (DDL). */
const Note = Schema.Struct({ schema: Schema.String })

/** The note of a rule whose output has these columns. */
export const note = (columns: ReadonlyArray<SparkSession.Column>): Plugin.Committed => ({
  checkpoint: {
    schema: columns.map((c) => `\`${c.name.replaceAll("`", "``")}\` ${c.type}`).join(", ")
  } satisfies typeof Note.Type
})

// Formats whose files keep the result's column names and types.
const typedFormats: ReadonlySet<string> = new Set(["parquet", "orc"])

/**
 * Restores one skipped rule (see the module's documentation). `operation` carries the rule's
 * tag, so an interrupt stops this work on the server too.
 */
export const restore = (
  spark: SparkSession.Session,
  ctx: Plugin.RestoreContext<SqlOptions.SqlOptions>,
  operation: SparkSession.OperationOptions
): Effect.Effect<Plugin.Restoration, Failure.RuleFailure> =>
  Effect.gen(function* () {
    const { options, rule } = ctx
    const problem = Target.optionsProblem(rule.id, rule.target, options)
    if (problem !== undefined) return yield* problem
    if (rule.target === undefined) return yield* redefine(spark, ctx, operation)
    const restoration = yield* readBack(spark, ctx, rule.target, operation)
    if (restoration._tag === "Restored") yield* setAgain(spark, ctx, operation)
    return restoration
  })

// The rule's `SET key = value` statements, in order: what it left set in the session.
const setAgain = (
  spark: SparkSession.Session,
  ctx: Plugin.PreflightContext<SqlOptions.SqlOptions>,
  operation: SparkSession.OperationOptions
): Effect.Effect<void, Failure.RuleFailure> =>
  Effect.gen(function* () {
    const { options, rule, batch } = ctx
    const script = yield* Script.load(options, batch.dir, rule.id)
    for (const [i, s] of Statements.split(script.text).entries()) {
      if (Statements.classify(s.sql)._tag !== "SetConf") continue
      yield* spark
        .sql(s.sql, { ...operation, params: Parameters.bind(s.sql, batch.parameters) })
        .pipe(Classify.mapErrors(spark, { ruleId: rule.id, phase: "sql", where: Script.where(script, s, i) }))
    }
  })

const readBack = (
  spark: SparkSession.Session,
  ctx: Plugin.RestoreContext<SqlOptions.SqlOptions>,
  target: TargetStore.Target,
  operation: SparkSession.OperationOptions
): Effect.Effect<Plugin.Restoration, Failure.RuleFailure> => {
  const { options, rule } = ctx
  const table = Target.isTable(target)
  if (table && options.table === "insert_into")
    return Effect.succeed(
      Plugin.notRestorable(
        `it inserts into ${target.location} by position: the table holds its rows under the table's column names, not the result's`
      )
    )
  const format = options.format ?? "parquet"
  if (!table && !typedFormats.has(format))
    return Effect.succeed(
      Plugin.notRestorable(
        `its ${format} output does not keep the result's column types: read back, it would not be the view the rules after it saw`
      )
    )
  // With the schema the run noted, Spark reads the output as written and infers nothing (a
  // Parquet footer read is a job); without one (an older checkpoint), it infers.
  const noted = Schema.decodeUnknownOption(Note)(ctx.checkpoint)
  const output = table
    ? spark.table(target.location)
    : spark.read({
        format,
        paths: [target.location],
        ...(Option.isSome(noted) ? { schema: noted.value.schema } : {})
      })
  // Creating the view resolves it: an output that is gone fails here.
  return spark.createTempView(output, rule.id, { ...operation, replace: true }).pipe(
    Classify.mapErrors(spark, {
      ruleId: rule.id,
      phase: "restore",
      where: `reading back target ${target.declared}`
    }),
    Effect.as(Plugin.restored)
  )
}

// What a view-only rule's restore would have to undo if it failed part way.
interface Made {
  readonly views: Array<string>
  readonly settings: Map<string, Option.Option<string>>
}

const redefine = (
  spark: SparkSession.Session,
  ctx: Plugin.PreflightContext<SqlOptions.SqlOptions>,
  operation: SparkSession.OperationOptions
): Effect.Effect<Plugin.Restoration, Failure.RuleFailure> =>
  Effect.gen(function* () {
    const { options, rule, batch } = ctx
    const { script, statements } = yield* Script.statements(options, batch.dir, rule.id)
    const where = (s: Statements.Statement, i: number) => Script.where(script, s, i)
    const inputs = Object.entries(options.inputs ?? {}).map(([view, input]) => ({
      view,
      input,
      path: Script.resolvePath(batch.dir, input.path)
    }))

    // Everything that makes the rule not restorable is known before Spark is asked anything.
    const unrestorable = whyNot(ctx, statements, where, inputs)
    if (unrestorable !== undefined) return Plugin.notRestorable(unrestorable)

    const made: Made = { views: [], settings: new Map() }
    const define = Effect.gen(function* () {
      for (const { view, input, path } of inputs) {
        const df = spark.read({
          format: input.format,
          paths: [path],
          options: SqlOptions.optionStrings(input.options),
          ...(input.schema !== undefined ? { schema: input.schema } : {})
        })
        yield* spark.createTempView(df, view, { ...operation, replace: true }).pipe(
          Classify.mapErrors(spark, {
            ruleId: rule.id,
            phase: "input",
            where: `input ${view} (${input.path})`
          })
        )
      }
      for (const [i, s] of statements.entries()) {
        const classified = Classify.mapErrors(spark, { ruleId: rule.id, phase: "sql", where: where(s, i) })
        const kind = Statements.classify(s.sql)
        if (kind._tag === "SetConf" && !made.settings.has(kind.key)) {
          made.settings.set(kind.key, yield* spark.getConf(kind.key).pipe(classified))
        }
        const result = yield* spark
          .sql(s.sql, { ...operation, params: Parameters.bind(s.sql, batch.parameters) })
          .pipe(classified)
        if (kind._tag === "TempView") made.views.push(kind.view)
        // Creating the view resolves the plan: a missing table or column fails here.
        if (i === statements.length - 1)
          yield* spark.createTempView(result, rule.id, { ...operation, replace: true }).pipe(classified)
      }
      return Plugin.restored
    })
    // After a capturable failure the rule is preflighted and run in this session.
    return yield* define.pipe(
      Effect.tapError((failure) =>
        failure.category === "capturable" ? undo(spark, rule.id, made, operation) : Effect.void
      )
    )
  })

// Why a view-only rule cannot be restored, if it cannot.
const whyNot = (
  ctx: Plugin.PreflightContext<SqlOptions.SqlOptions>,
  statements: ReadonlyArray<Statements.Statement>,
  where: (s: Statements.Statement, i: number) => string,
  inputs: ReadonlyArray<{ readonly view: string; readonly input: SqlOptions.Input; readonly path: string }>
): string | undefined => {
  const { rule } = ctx
  for (const [i, s] of statements.entries()) {
    const kind = Statements.classify(s.sql)
    if (kind._tag === "Command")
      return `${where(s, i)} is a command (${kind.keyword}): what it did cannot be restored without running it`
  }
  // Another rule's target is still what this rule read only if that rule was skipped too,
  // which core guarantees for the rule's dependencies alone.
  const unsettled = (owner: string) => !rule.dependsOn.includes(owner)
  const others = ctx.targets.filter((t) => t.ruleId !== rule.id && unsettled(t.ruleId))
  for (const [i, s] of statements.entries()) {
    const named = others.find((t) => Preflight.namesTarget(s.sql, t))
    if (named !== undefined)
      return `${where(s, i)} reads ${named.location}, the target of rule ${named.ruleId}, which it does not depend on (this run may rewrite it)`
  }
  for (const { view, input, path } of inputs) {
    const upstream = Preflight.upstreamOf(path, rule.id, ctx.targets)
    if (upstream !== undefined && unsettled(upstream.ruleId))
      return `input ${view} (${input.path}) reads the target of rule ${upstream.ruleId}, which it does not depend on (this run may rewrite it)`
  }
  return undefined
}

// Leaves the session as the restore found it: its temp views dropped, its SETs put back.
const undo = (
  spark: SparkSession.Session,
  ruleId: string,
  made: Made,
  operation: SparkSession.OperationOptions
): Effect.Effect<void> =>
  Effect.gen(function* () {
    for (const view of made.views) {
      yield* spark.sql(`DROP VIEW IF EXISTS ${Expectations.quote(view)}`, operation)
    }
    for (const [key, value] of made.settings) {
      yield* Option.isSome(value) ? spark.setConf({ [key]: value.value }) : spark.unsetConf([key])
    }
  }).pipe(
    Effect.catch((e) =>
      Effect.logWarning(`restore of rule ${ruleId}: could not undo what it made: ${e.message}`)
    )
  )
