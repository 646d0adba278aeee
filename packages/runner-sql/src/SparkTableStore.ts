/**
 * A target store for Spark tables (`targets.store: spark-table`): the batch's roots are
 * namespaces (`mart`, `spark_catalog.mart`) and each target is a table inside one of them
 * (`mart.daily_totals`). The check is lexical, so a batch is refused before any side effect;
 * the pre-batch cleanup truncates each table (keeping its definition, grants and partitioning)
 * or drops it, by configuration. A table that does not exist yet is fine either way.
 *
 * The sql runner brings this store (see `SqlRunner.make`), so a batch selects it by name.
 *
 * @example
 * # batch file
 * targets: { store: spark-table, roots: [mart] }
 * rules:
 *   - id: daily_totals
 *     kind: sql
 *     target: mart.daily_totals
 *     options: { sql: "SELECT …" }
 */
import * as Effect from "effect/Effect"
import { Failure, TargetStore } from "@spark-etl/core"
import * as SparkError from "@spark-etl/runner-spark-connect/SparkError"
import * as SparkSession from "@spark-etl/runner-spark-connect/SparkSession"
import * as Classify from "./Classify.js"

/** The name a batch file selects this store by. */
export const name = "spark-table"

/** How tables are emptied before the batch. */
type Cleanup = "truncate" | "drop"

/** The store's configuration. */
export interface Config {
  /** `truncate` (default) keeps the table's definition; `drop` removes it, so the rule recreates it. */
  readonly cleanup?: Cleanup
}

const part = /^[A-Za-z_][A-Za-z0-9_]*$/

/** The parts of a dotted table or namespace name, or undefined when it is not one. */
const parseName = (text: string): ReadonlyArray<string> | undefined => {
  const parts = text.split(".")
  return parts.every((p) => part.test(p)) ? parts : undefined
}

// Spark resolves identifiers case-insensitively by default.
const key = (parts: ReadonlyArray<string>) => parts.join(".").toLowerCase()

/** Whether a target (already parsed) lies directly inside one of the roots. */
const rootOf = (roots: ReadonlyArray<string>, target: ReadonlyArray<string>): string | undefined =>
  roots.find((r) => key(target.slice(0, -1)) === key(r.split(".")))

const checkTargets = (input: {
  readonly roots: ReadonlyArray<string>
  readonly targets: ReadonlyArray<TargetStore.Declared>
}): Effect.Effect<TargetStore.Resolved, ReadonlyArray<TargetStore.Rejection>> => {
  const rejections: Array<TargetStore.Rejection> = []
  input.roots.forEach((root, index) => {
    if (parseName(root) === undefined) {
      rejections.push({
        at: { _tag: "Root", index },
        message: `target root "${root}" is not a namespace name (letters, digits and '_', parts joined by '.')`
      })
    }
  })
  if (rejections.length > 0) return Effect.fail(rejections)
  const checked: Array<TargetStore.Target> = []
  const owners = new Map<string, string>()
  for (const t of input.targets) {
    const parts = parseName(t.declared)
    const reject = (message: string) => rejections.push({ at: { _tag: "Target", ruleId: t.ruleId }, message })
    if (parts === undefined) {
      reject(`target "${t.declared}" is not a table name (letters, digits and '_', parts joined by '.')`)
      continue
    }
    if (input.roots.some((r) => key(r.split(".")) === key(parts))) {
      reject(`target "${t.declared}" is a target root itself; a target must be a table inside a root`)
      continue
    }
    if (rootOf(input.roots, parts) === undefined) {
      reject(
        `target "${t.declared}" is not a table directly inside the declared roots (${input.roots.join(", ")})`
      )
      continue
    }
    const owner = owners.get(key(parts))
    if (owner !== undefined) {
      reject(`target "${t.declared}" is also the target of rule "${owner}"`)
      continue
    }
    owners.set(key(parts), t.ruleId)
    checked.push({ ...t, location: parts.join(".") })
  }
  return rejections.length > 0
    ? Effect.fail(rejections)
    : Effect.succeed({ roots: input.roots, targets: checked })
}

/** Builds the store on a Spark session. */
export const make = (
  config: Config = {}
): Effect.Effect<TargetStore.TargetStore["Service"], never, SparkSession.SparkSession> =>
  Effect.gen(function* () {
    const spark = yield* SparkSession.SparkSession
    const cleanup = config.cleanup ?? "truncate"
    const statement = (table: string) =>
      cleanup === "drop" ? `DROP TABLE IF EXISTS ${table}` : `TRUNCATE TABLE ${table}`
    return TargetStore.TargetStore.of({
      name,
      check: ({ roots, targets }) => checkTargets({ roots, targets }),
      clean: (resolved, target) =>
        Effect.gen(function* () {
          // Re-check right before a destructive statement, as the filesystem store does.
          const parts = parseName(target.location)
          if (parts === undefined || rootOf(resolved.roots, parts) === undefined) {
            return yield* new Failure.TargetError({
              code: "TARGET_UNSAFE",
              message: `refused to clean: target "${target.declared}" is not a table inside the roots`,
              ruleId: target.ruleId
            })
          }
          yield* spark.sql(statement(target.location), { tags: ["spark-etl-cleanup"] }).pipe(
            Effect.asVoid,
            Effect.catch((e) => (isAbsent(e) ? Effect.void : Effect.fail(cleanupFailed(e, target))))
          )
        })
    })
  })

// A table (or its namespace) that does not exist yet has nothing to clean.
const isAbsent = (e: SparkError.SparkError): boolean =>
  e._tag === "SparkAnalysisError" &&
  (e.errorClass === "TABLE_OR_VIEW_NOT_FOUND" || e.errorClass === "SCHEMA_NOT_FOUND")

const cleanupFailed = (e: SparkError.SparkError, target: TargetStore.Target): Failure.TargetError => {
  const system = SparkError.category[e._tag] !== "capturable"
  return new Failure.TargetError({
    code: e.errorClass ?? "TARGET_CLEANUP_FAILED",
    message: `could not clean table ${target.location}: ${SparkError.headline(e)}`,
    ruleId: target.ruleId,
    engineDetail: Classify.engineDetail(e),
    ...(e.sqlState !== undefined ? { sqlState: e.sqlState } : {}),
    // The platform failing (unreachable, session lost) may pass; a refusal (a view, a
    // permission) will not.
    restartable: system
  })
}
