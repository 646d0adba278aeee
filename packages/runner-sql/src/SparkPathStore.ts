/**
 * A target store for paths on the Spark cluster's filesystems (`targets.store: spark-path`):
 * HDFS, object stores (s3a, abfss, gs), or any URI the cluster's Hadoop configuration reaches;
 * an absolute path without scheme is on the cluster's default filesystem. The CLI's host needs
 * no storage client and no storage credentials: everything goes through the Spark session.
 *
 * - Check (at load, no engine): lexical, on parsed paths (internal/uri): each root a directory
 *   below its filesystem's root; each target strictly below a root of the same filesystem
 *   (scheme and authority), no two targets the same or one inside another.
 * - Verify (at preflight, before anything is cleaned): each root exists on the cluster (a
 *   missing root refuses the batch: a typo must not create a tree of its own).
 * - Clean (before the batch): the target is overwritten by Spark's own writer with an empty
 *   dataset — works on a stock Spark Connect server, nothing installed on it. The target then holds `_SUCCESS` and one empty
 *   text file, which every reader takes as zero rows; the rule's own overwrite replaces them.
 *
 * The sql runner brings this store, so a batch selects it by name.
 *
 * @example
 * # batch file
 * targets: { store: spark-path, roots: ["hdfs://nn:8020/data/sales"] }
 * rules:
 *   - id: daily_totals
 *     kind: sql
 *     target: hdfs://nn:8020/data/sales/daily_totals
 *     options: { sql: "SELECT …" }
 */
import * as Effect from "effect/Effect"
import { Failure, TargetStore } from "@spark-etl/core"
import * as SparkError from "@spark-etl/runner-spark-connect/SparkError"
import * as SparkSession from "@spark-etl/runner-spark-connect/SparkSession"
import * as Classify from "./Classify.js"
import * as Uri from "./internal/uri.js"

/** The name a batch file selects this store by. */
const name = "spark-path"

const tags = ["spark-etl-cleanup"]

/** The lexical check of roots and targets (exported for its tests). */
export const check = (input: {
  readonly roots: ReadonlyArray<string>
  readonly targets: ReadonlyArray<TargetStore.Declared>
}): Effect.Effect<TargetStore.Resolved, ReadonlyArray<TargetStore.Rejection>> => {
  const rejections: Array<TargetStore.Rejection> = []
  const roots: Array<Uri.Parsed> = []
  input.roots.forEach((root, index) => {
    const parsed = Uri.parse(root)
    const reject = (message: string) => rejections.push({ at: { _tag: "Root", index }, message })
    if (typeof parsed === "string") reject(`target root "${root}" ${parsed}`)
    else if (parsed.segments.length === 0)
      reject(`target root "${root}" is the root of its filesystem; give a directory below it`)
    else roots.push(parsed)
  })
  if (rejections.length > 0) return Effect.fail(rejections)
  const checked: Array<{ readonly target: TargetStore.Target; readonly parsed: Uri.Parsed }> = []
  for (const t of input.targets) {
    const reject = (message: string) => rejections.push({ at: { _tag: "Target", ruleId: t.ruleId }, message })
    const parsed = Uri.parse(t.declared)
    if (typeof parsed === "string") {
      reject(`target "${t.declared}" ${parsed}`)
      continue
    }
    if (roots.some((r) => Uri.same(r, parsed))) {
      reject(`target "${t.declared}" is a target root itself; deleting it would delete every target`)
      continue
    }
    if (!roots.some((r) => Uri.isBelow(r, parsed))) {
      reject(
        `target "${t.declared}" is not below the declared target roots (${input.roots.join(", ")}) on the same filesystem`
      )
      continue
    }
    const other = checked.find((c) => Uri.same(c.parsed, parsed))
    if (other !== undefined) {
      reject(`target "${t.declared}" is also the target of rule "${other.target.ruleId}"`)
      continue
    }
    const outer = checked.find((c) => Uri.isBelow(c.parsed, parsed) || Uri.isBelow(parsed, c.parsed))
    if (outer !== undefined) {
      reject(
        `target "${t.declared}" and the target of rule "${outer.target.ruleId}" lie one inside the other; targets must not overlap`
      )
      continue
    }
    checked.push({ target: { ...t, location: Uri.format(parsed) }, parsed })
  }
  return rejections.length > 0
    ? Effect.fail(rejections)
    : Effect.succeed({ roots: roots.map(Uri.format), targets: checked.map((c) => c.target) })
}

// The platform failing (unreachable, session lost) may pass; a refusal (a permission) will not.
const failed = (e: SparkError.SparkError, message: string, ruleId?: string): Failure.TargetError =>
  new Failure.TargetError({
    code: e.errorClass ?? "TARGET_CLEANUP_FAILED",
    message: `${message}: ${SparkError.headline(e)}`,
    engineDetail: Classify.engineDetail(e),
    ...(e.sqlState !== undefined ? { sqlState: e.sqlState } : {}),
    ...(ruleId !== undefined ? { ruleId } : {}),
    restartable: SparkError.category[e._tag] !== "capturable"
  })

const cleanupFailed = (e: SparkError.SparkError, target: TargetStore.Target, what: string) =>
  failed(e, `could not clean target ${target.location}: ${what}`, target.ruleId)

const rootFailed = (e: SparkError.SparkError, root: string) =>
  failed(e, `could not check target root ${root}`)

/** Builds the store on a Spark session. */
export const make: Effect.Effect<TargetStore.TargetStore["Service"], never, SparkSession.SparkSession> =
  Effect.gen(function* () {
    const spark = yield* SparkSession.SparkSession
    // Resolving a read of the root (its files listed, none read) fails with PATH_NOT_FOUND when
    // it does not exist; no partition inference, which a tree of outputs would confuse.
    const rootExists = (root: string): Effect.Effect<void, Failure.TargetError> =>
      spark
        .schema(spark.read({ format: "text", paths: [root], options: { recursiveFileLookup: "true" } }))
        .pipe(
          Effect.asVoid,
          Effect.mapError((e) =>
            e.errorClass === "PATH_NOT_FOUND"
              ? new Failure.TargetError({
                  code: "TARGET_ROOT_MISSING",
                  message: `target root ${root} does not exist on the cluster (create it, or correct targets.roots); nothing was cleaned`
                })
              : rootFailed(e, root)
          )
        )
    return TargetStore.TargetStore.of({
      name,
      check: ({ roots, targets }) => check({ roots, targets }),
      // At preflight: a root that does not exist refuses the batch before anything is cleaned
      // (a typo must not create a tree of its own through the first overwrite).
      verify: (resolved) => Effect.forEach(resolved.roots, rootExists, { discard: true }),
      clean: (resolved, target) =>
        Effect.gen(function* () {
          // Re-check right before a destructive write, as the filesystem store does.
          const parsed = Uri.parse(target.location)
          const root = resolved.roots.find((r) => {
            const p = Uri.parse(r)
            return typeof p !== "string" && typeof parsed !== "string" && Uri.isBelow(p, parsed)
          })
          if (root === undefined) {
            return yield* new Failure.TargetError({
              code: "TARGET_UNSAFE",
              message: `refused to clean: target "${target.declared}" is not below the roots`,
              ruleId: target.ruleId
            })
          }
          const empty = yield* spark
            .sql("SELECT CAST(NULL AS STRING) AS value WHERE false", { tags })
            .pipe(Effect.mapError((e) => cleanupFailed(e, target, "an empty dataset")))
          yield* spark
            .write(empty, { format: "text", mode: "overwrite", target: { path: target.location } }, { tags })
            .pipe(Effect.mapError((e) => cleanupFailed(e, target, "overwriting it with an empty dataset")))
        })
    })
  })
