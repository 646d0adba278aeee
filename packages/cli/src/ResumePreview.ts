/**
 * What a resume would skip and run, and why, told without Spark (`plan --resume`, `run
 * --dry-run --resume`); or the refusal the run itself would give — the same RESUME_REFUSED
 * rejection (exit 3) with the same reason, so what the preview says is what the job would do.
 */
import * as Effect from "effect/Effect"
import type * as FileSystem from "effect/FileSystem"
import type * as Path from "effect/Path"
import * as Result from "effect/Result"
import { Batch, Failure, Plugin, Resume, type TargetStore } from "@spark-etl/core"

/** A resume request: `--resume` (the latest run) or `--resume=<run-id>`. */
export type Request = Exclude<Resume.Request, { readonly _tag: "Fresh" }>

/** The run resumed from, and each rule's decision in plan order. */
export interface Shown {
  readonly resuming: Resume.Resuming
  readonly previews: ReadonlyArray<Resume.Preview>
}

type Services = Plugin.Registry | TargetStore.TargetStore | FileSystem.FileSystem | Path.Path

/** What a resume of `batch` would do, or why there is nothing to trust to resume from. */
export const attempt = (
  ledgerDir: string,
  batch: Batch.Batch,
  request: Request
): Effect.Effect<Result.Result<Shown, string>, never, Services> =>
  Effect.gen(function* () {
    const selected = yield* Resume.select(ledgerDir, batch, request)
    if (Result.isFailure(selected)) return Result.fail(selected.failure)
    const registry = yield* Plugin.Registry
    const store = yield* Batch.targetStore(batch.targetStore)
    const previews = yield* Resume.preview(batch, registry, selected.success, store)
    return Result.succeed({ resuming: selected.success, previews })
  })

/**
 * What an explicit `--resume` of `batch` would do, or the run's refusal (also for a batch file
 * that says `resume: never`).
 */
export const preview = (
  ledgerDir: string,
  batch: Batch.Batch,
  request: Request
): Effect.Effect<Shown, Failure.ConfigRejected, Services> =>
  Resume.forbidden(batch) !== undefined
    ? Effect.fail(Resume.refusal(Resume.forbidden(batch)!))
    : Effect.flatMap(attempt(ledgerDir, batch, request), (shown) =>
        Result.isSuccess(shown) ? Effect.succeed(shown.success) : Effect.fail(Resume.refusal(shown.failure))
      )

/** Why a rule is skipped or run, as one line says it. */
const why = (p: Resume.Preview): string =>
  p.decision._tag === "Run"
    ? p.decision.reason
    : `checkpoint of run ${p.checkpointOf ?? "(unknown)"} valid${p.note !== undefined ? ` (${p.note})` : ""}`

/** The rule ids a preview runs, in plan order. */
export const running = (shown: Shown): ReadonlySet<string> =>
  new Set(shown.previews.filter((p) => p.decision._tag === "Run").map((p) => p.ruleId))

/**
 * A header naming the run resumed from, then one line per rule in plan order:
 * `skip  <rule>  checkpoint of run <id> valid` or `run   <rule>  <why>`.
 */
export const lines = (shown: Shown): ReadonlyArray<string> => {
  const { from } = shown.resuming
  const total = shown.previews.length
  const skipped = total - running(shown).size
  const width = Math.max(0, ...shown.previews.map((p) => p.ruleId.length))
  return [
    `resume of run ${from.runId} (${from.status}, started ${from.startedAt}): ${skipped} of ${total} rules skipped, ${total - skipped} run`,
    ...shown.previews.map(
      (p) => `${p.decision._tag === "Skip" ? "skip" : "run "}  ${p.ruleId.padEnd(width)}  ${why(p)}`
    )
  ]
}
