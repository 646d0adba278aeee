/**
 * Preflight of a `sql` rule: everything `run` would do up to the write, analysed by Spark and
 * never executed, so a parse error, a missing table or a missing column fails the batch before
 * any target is cleaned. Rules come in dependency order on the run's session; each leaves its
 * result as the temp view named after it, as `run` does, for the rules that read it.
 *
 * - Inputs become temp views. An input that reads another rule's target (its path, or a path
 *   under it) is registered as that rule's result instead — the files are yesterday's or
 *   absent, and cleanup empties them: with a declared `schema`, an empty read with that schema
 *   (exactly what `run` will see); without one, the upstream rule's view. Types are then the
 *   view's, and partition columns of a partitioned output, which come back last, keep their
 *   place: fine for SQL that selects by name.
 * - Statements go to Spark only when they are side-effect free (`Statements.classify`): a
 *   query (analysed, not run), a session temp view, `SET` of a session configuration (put back
 *   after the rule). The first other statement ends the rule's analysis as `NotAnalysed`; it
 *   and the statements after it are only parsed (`EXPLAIN`, which plans and runs nothing).
 * - The last statement's result becomes the rule's view (which resolves it), and the
 *   expectations' queries are analysed. A last query without parameters is defined by its text,
 *   which Spark resolves again at each use, so `run` keeps that view (see RuleViews).
 * - A rule whose SQL names another rule's target directly (a path in the text, a qualified
 *   table name) is `NotAnalysed`: what it reads is being replaced by this run.
 *
 * Data errors (ANSI casts, divide by zero) and failed expectations only show when the rule
 * runs. Inputs are read as far as Spark needs to know their schema (a CSV header, a Parquet
 * footer); a declared `schema` avoids even that.
 *
 * @example
 * import { Preflight } from "@spark-etl/runner-sql"
 * const analysis = yield* Preflight.analyse(spark, Preflight.makeViews(), Preflight.makeRuleViews(), ctx, {
 *   tags: [tag]
 * })
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Failure, Plugin } from "@spark-etl/core"
import type { TargetStore } from "@spark-etl/core"
import type { SparkError, SparkSession } from "@spark-etl/runner-spark-connect"
import * as Classify from "./Classify.js"
import * as Expectations from "./Expectations.js"
import * as Parameters from "./Parameters.js"
import * as SqlOptions from "./SqlOptions.js"
import * as Statements from "./Statements.js"
import * as Lex from "./internal/lex.js"
import * as Script from "./internal/script.js"
import * as Target from "./internal/target.js"

/**
 * The temp views preflight made with a plain `CREATE TEMP VIEW` (no `OR REPLACE`). They stay
 * (a later rule may read them), so when the rule runs the same statement would find its view
 * there; `run` asks here and replaces the view instead.
 */
export interface Views {
  readonly record: (runId: string, ruleId: string, view: string) => Effect.Effect<void>
  /** Whether preflight made this view for this rule of this run; forgets it. */
  readonly take: (runId: string, ruleId: string, view: string) => Effect.Effect<boolean>
}

/** An empty record of views; one per runner. */
export const makeViews = (): Views => {
  const made = new Set<string>()
  // Spark's temp view names are case-insensitive.
  const key = (runId: string, ruleId: string, view: string) =>
    JSON.stringify([runId, ruleId, view.toLowerCase()])
  return {
    record: (runId, ruleId, view) => Effect.sync(() => void made.add(key(runId, ruleId, view))),
    take: (runId, ruleId, view) => Effect.sync(() => made.delete(key(runId, ruleId, view)))
  }
}

/**
 * The rules' own views that preflight defined by their query's text (`CREATE OR REPLACE
 * TEMPORARY VIEW <rule> AS <query>`). Spark keeps such a view as text and resolves it again at
 * every use, so when the rule runs the view reads what is there then, exactly as a view made
 * then would: `run` keeps it and saves a round trip per rule. Only while the session is as
 * preflight left it: a run whose preflight met a `SET`, a command, or an input standing in for
 * an upstream rule's target has every view made again by `run`, as the rules' own statements
 * and inputs then make the session differ from what the views were defined against.
 */
export interface RuleViews {
  readonly record: (runId: string, ruleId: string, sql: string) => Effect.Effect<void>
  /** Marks the run's session as changed by preflight's own work: no view is kept. */
  readonly unsettle: (runId: string) => Effect.Effect<void>
  /** Whether `run` may keep the view preflight defined for this query of this rule; forgets it. */
  readonly take: (runId: string, ruleId: string, sql: string) => Effect.Effect<boolean>
}

/** An empty record of rule views; one per runner. */
export const makeRuleViews = (): RuleViews => {
  const defined = new Map<string, string>()
  const unsettled = new Set<string>()
  const key = (runId: string, ruleId: string) => JSON.stringify([runId, ruleId])
  return {
    record: (runId, ruleId, sql) => Effect.sync(() => void defined.set(key(runId, ruleId), sql)),
    unsettle: (runId) => Effect.sync(() => void unsettled.add(runId)),
    take: (runId, ruleId, sql) =>
      Effect.sync(() => {
        const k = key(runId, ruleId)
        const found = defined.get(k)
        defined.delete(k)
        return found === sql && !unsettled.has(runId)
      })
  }
}

/** The text `run` sends for a statement: a temp view preflight already made is replaced. */
export const forRun = (views: Views, runId: string, ruleId: string, sql: string): Effect.Effect<string> => {
  const kind = Statements.classify(sql)
  if (kind._tag !== "TempView" || kind.replace) return Effect.succeed(sql)
  return Effect.map(views.take(runId, ruleId, kind.view), (made) => (made ? Statements.orReplace(sql) : sql))
}

// `file:///a`, `file:/a` and `/a` are one path; a trailing `/` does not matter.
const normalise = (path: string): string => path.replace(/^file:(\/\/)?(?=\/)/, "").replace(/(.)\/+$/, "$1")

/** Whether `path` is `location` or lies under it. */
export const within = (path: string, location: string): boolean => {
  const p = normalise(path)
  const l = normalise(location)
  return p === l || p.startsWith(l.endsWith("/") ? l : `${l}/`)
}

/** The target of another rule that an input path reads, if any. */
export const upstreamOf = (
  path: string,
  ruleId: string,
  targets: ReadonlyArray<TargetStore.Target>
): TargetStore.Target | undefined =>
  targets.find((t) => t.ruleId !== ruleId && !Target.isTable(t) && within(path, t.location))

// The dotted names of a SQL text (`mart.orders`, `` `cat`.`mart`.`orders` ``), lower-cased.
const dottedNames = (sql: string): ReadonlyArray<ReadonlyArray<string>> => {
  const names: Array<ReadonlyArray<string>> = []
  let current: Array<string> = []
  let afterDot = false
  const finish = () => {
    if (current.length >= 2) names.push(current)
    current = []
    afterDot = false
  }
  for (const t of Lex.tokens(sql)) {
    if (t.kind !== "symbol") {
      if (!afterDot) finish()
      current.push(t.text.toLowerCase())
      afterDot = false
    } else if (t.text === "." && current.length > 0 && !afterDot) {
      afterDot = true
    } else {
      finish()
    }
  }
  finish()
  return names
}

/** Whether a SQL text names a target directly: its path, or its table by a qualified name. */
export const namesTarget = (sql: string, target: TargetStore.Target): boolean => {
  if (!Target.isTable(target)) return sql.includes(normalise(target.location))
  const parts = target.location.toLowerCase().split(".")
  return dottedNames(sql).some((name) => {
    const n = Math.min(name.length, parts.length)
    return n >= 2 && name.slice(-n).join(".") === parts.slice(-n).join(".")
  })
}

// The rule ids of a batch, lower-cased (Spark's temp view names are case-insensitive): plain
// ones to look up by word, and the few with `.` or `-`, which only a backquoted name can be. Made
// once per batch: core gives every rule the same list.
const idsOf = new WeakMap<
  ReadonlyArray<string>,
  { readonly plain: ReadonlySet<string>; readonly odd: ReadonlyArray<string> }
>()
const batchIds = (ruleIds: ReadonlyArray<string>) => {
  let ids = idsOf.get(ruleIds)
  if (ids === undefined) {
    const lower = ruleIds.map((id) => id.toLowerCase())
    ids = {
      plain: new Set(lower.filter((id) => /^\w+$/.test(id))),
      odd: lower.filter((id) => !/^\w+$/.test(id))
    }
    idsOf.set(ruleIds, ids)
  }
  return ids
}

/** Whether any word of a SQL text, comments and strings included, is a rule id not in `except`. */
const namesAnotherRule = (
  sql: string,
  ruleIds: ReadonlyArray<string>,
  except: ReadonlySet<string>
): boolean => {
  const { plain, odd } = batchIds(ruleIds)
  const text = sql.toLowerCase()
  return (
    text.split(/\W+/).some((word) => plain.has(word) && !except.has(word)) ||
    odd.some((id) => !except.has(id) && text.includes(id))
  )
}

/**
 * Whether the rule's preflight is isolated (see `Plugin.Runner.preflightIsolated`), so core may
 * analyse it alongside other rules: it has no inputs (they become session views under names of
 * their own), every statement is a query (no `SET`, no temp view, no command), and neither its
 * SQL nor its assertion names another rule but those it depends on — a rule it reads without
 * declaring it is analysed alone, after the rules before it, as the run will read it. Anything
 * unsure (a SQL file that cannot be read) is not isolated.
 */
export const isolated = (
  ctx: Plugin.PreflightContext<SqlOptions.SqlOptions>,
  ruleIds: ReadonlyArray<string>
): Effect.Effect<boolean> => {
  const { options, rule, batch } = ctx
  if (Object.keys(options.inputs ?? {}).length > 0) return Effect.succeed(false)
  return Script.statements(options, batch.dir, rule.id).pipe(
    Effect.map(({ statements }) => {
      if (!statements.every((s) => Statements.classify(s.sql)._tag === "Query")) return false
      const mine = new Set([rule.id, ...rule.dependsOn].map((id) => id.toLowerCase()))
      const texts = [
        ...statements.map((s) => s.sql),
        ...(options.expect?.assert_empty !== undefined ? [options.expect.assert_empty] : [])
      ]
      return !texts.some((sql) => namesAnotherRule(sql, ruleIds, mine))
    }),
    Effect.orElseSucceed(() => false)
  )
}

const isNotFound = (e: SparkError.SparkError): boolean => e.errorClass === "TABLE_OR_VIEW_NOT_FOUND"

/**
 * Analyses one rule without executing it (see the module's documentation). `operation`
 * carries the rule's tag, so an interrupt stops this work on the server too.
 */
export const analyse = (
  spark: SparkSession.Session,
  views: Views,
  ruleViews: RuleViews,
  ctx: Plugin.PreflightContext<SqlOptions.SqlOptions>,
  operation: SparkSession.OperationOptions
): Effect.Effect<Plugin.Analysis, Failure.RuleFailure> =>
  Effect.gen(function* () {
    const { options, rule, batch, runId } = ctx
    const classified = (phase: Classify.Phase, where: string) =>
      Classify.mapErrors(spark, { ruleId: rule.id, phase, where })
    const bound = (sql: string) => ({ ...operation, params: Parameters.bind(sql, batch.parameters) })

    const problem = Target.optionsProblem(rule.id, rule.target, options)
    if (problem !== undefined) return yield* problem
    const { script, statements } = yield* Script.statements(options, batch.dir, rule.id)
    const where = (s: Statements.Statement, i: number) => Script.where(script, s, i)

    const others = ctx.targets.filter((t) => t.ruleId !== rule.id)
    const texts = [
      ...statements.map((s, i) => ({ sql: s.sql, at: where(s, i) })),
      ...(options.expect?.assert_empty !== undefined
        ? [{ sql: options.expect.assert_empty, at: "expectation assert_empty" }]
        : [])
    ]
    for (const { sql, at } of texts) {
      const named = others.find((t) => namesTarget(sql, t))
      if (named !== undefined) {
        return Plugin.notAnalysed(
          `${at} reads ${named.location}, the target of rule ${named.ruleId}, which this run empties and rewrites`
        )
      }
    }

    for (const [view, input] of Object.entries(options.inputs ?? {})) {
      const path = Script.resolvePath(batch.dir, input.path)
      const at = `input ${view} (${input.path})`
      const upstream = upstreamOf(path, rule.id, ctx.targets)
      if (upstream !== undefined) yield* ruleViews.unsettle(runId)
      const register = (df: SparkSession.DataFrame) =>
        spark.createTempView(df, view, { ...operation, replace: true })
      if (upstream === undefined) {
        yield* register(
          spark.read({
            format: input.format,
            paths: [path],
            options: SqlOptions.optionStrings(input.options),
            ...(input.schema !== undefined ? { schema: input.schema } : {})
          })
        ).pipe(classified("input", at))
      } else if (input.schema !== undefined) {
        // No file is read: an empty source with the declared schema is what the rule will see.
        yield* register(
          spark.read({
            format: input.format,
            paths: [],
            options: SqlOptions.optionStrings(input.options),
            schema: input.schema
          })
        ).pipe(classified("input", at))
      } else {
        const found = yield* register(spark.table(upstream.ruleId)).pipe(
          Effect.as(true),
          Effect.catchIf(isNotFound, () => Effect.succeed(false)),
          classified("input", at)
        )
        if (!found) {
          return Plugin.notAnalysed(
            `${at} reads the target of rule ${upstream.ruleId}, whose result preflight has not made (does the rule depend on ${upstream.ruleId}?)`
          )
        }
        yield* Effect.logDebug(`preflight: ${at} analysed as the result of rule ${upstream.ruleId}`)
      }
    }

    // SET changes the whole session: put each key back after the rule, so rules that run
    // before this one see the session as they would without preflight.
    const saved = new Map<string, Option.Option<string>>()
    const restore = Effect.suspend(() =>
      Effect.forEach(
        [...saved],
        ([key, value]) =>
          Option.isSome(value) ? spark.setConf({ [key]: value.value }) : spark.unsetConf([key]),
        { discard: true }
      )
    ).pipe(
      Effect.catch((e) =>
        Effect.logWarning(`preflight of rule ${rule.id}: could not put configuration back: ${e.message}`)
      )
    )
    // The rule's view of its last query, which creating it resolves: a parse error, a missing
    // table or column fails here. Defined by its text when it binds no parameter (Spark refuses
    // parameters in a view's text), so that `run` may keep it (see RuleViews); if Spark refuses
    // that, the view of the query's plan gives the error at the positions of the rule's own text.
    const defineView = (sql: string, at: string) =>
      Effect.gen(function* () {
        const params = Parameters.bind(sql, batch.parameters)
        if (Object.keys(params).length === 0) {
          const byText = yield* spark
            .sql(`CREATE OR REPLACE TEMPORARY VIEW ${Expectations.quote(rule.id)} AS ${sql}`, operation)
            .pipe(Effect.result)
          if (byText._tag === "Success") return yield* ruleViews.record(runId, rule.id, sql)
        }
        yield* spark
          .createTempView(spark.query(sql, params), rule.id, { ...operation, replace: true })
          .pipe(classified("sql", at))
      })

    // Parsing is safe where analysis is not: EXPLAIN plans a statement and runs nothing.
    const parseOnly = (from: number) =>
      Effect.forEach(
        statements.slice(from),
        (s, j) =>
          Statements.explainable(s.sql)
            ? spark
                .sql(`EXPLAIN ${s.sql}`, bound(s.sql))
                .pipe(classified("sql", where(s, from + j)), Effect.asVoid)
            : Effect.void,
        { discard: true }
      )

    const analysis = Effect.gen(function* () {
      for (const [i, s] of statements.entries()) {
        const at = where(s, i)
        const kind = Statements.classify(s.sql)
        if (kind._tag === "Command") {
          yield* ruleViews.unsettle(runId)
          yield* parseOnly(i)
          return Plugin.notAnalysed(`${at} is a command (${kind.keyword}), which preflight does not run`)
        }
        if (kind._tag === "SetConf") {
          yield* ruleViews.unsettle(runId)
          if (!saved.has(kind.key))
            saved.set(kind.key, yield* spark.getConf(kind.key).pipe(classified("sql", at)))
        }
        const last = i === statements.length - 1
        if (last && kind._tag === "Query") {
          yield* defineView(s.sql, at)
          continue
        }
        const result = yield* spark.sql(s.sql, bound(s.sql)).pipe(classified("sql", at))
        if (kind._tag === "TempView" && !kind.replace) yield* views.record(runId, rule.id, kind.view)
        if (last) {
          // Creating the view resolves the plan: a missing table or column fails here.
          yield* spark
            .createTempView(result, rule.id, { ...operation, replace: true })
            .pipe(classified("sql", at))
        }
      }
      if (options.expect !== undefined) {
        const checks = yield* Expectations.analyse(spark, {
          ruleId: rule.id,
          view: rule.id,
          expect: options.expect,
          params: batch.parameters,
          operation
        })
        if (checks._tag === "NotAnalysed") return checks
      }
      const target = rule.target
      if (target !== undefined && Target.isTable(target) && options.table === "insert_into") {
        // insert_into needs the table; the run would fail at the write without it.
        yield* spark
          .schema(spark.table(target.location))
          .pipe(classified("write", `writing target ${target.declared}`))
      }
      return Plugin.analysed
    })
    return yield* Effect.ensuring(analysis, restore)
  })
