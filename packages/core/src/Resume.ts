/**
 * Dependency-aware resume: which run to resume from, and which of its rules a resumed run may
 * skip. A rule is skipped only when its checkpoint is valid — same fingerprint, output still
 * there (its runner restores it) — and every rule it depends on is skipped too; everything
 * else runs, and so does everything downstream of anything that runs. Whatever a resumed run
 * runs is cleaned first; what it skips is left as it is.
 *
 * @example
 * const decisions = yield* Resume.plan(batch.plan, (id) => Effect.succeed(Resume.compare(now.get(id)!, saved.get(id))))
 */
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Option from "effect/Option"
import * as Path from "effect/Path"
import * as Result from "effect/Result"
import type * as Batch from "./Batch.js"
import * as Checkpoint from "./Checkpoint.js"
import type * as Dag from "./Dag.js"
import type { LedgerError } from "./Errors.js"
import * as Failure from "./Failure.js"
import * as Ledger from "./Ledger.js"
import * as Parameter from "./Parameter.js"
import type * as Plugin from "./Plugin.js"
import type * as TargetStore from "./TargetStore.js"

/** What the command line asked for. */
export type Request =
  /** No `--resume`. */
  | { readonly _tag: "Fresh" }
  /** `--resume`: the latest run of the batch with these parameters. */
  | { readonly _tag: "Latest" }
  /** `--resume <run-id>`. */
  | { readonly _tag: "Run"; readonly runId: string }

export const fresh: Request = { _tag: "Fresh" }

/** Whether a rule's checkpoint lets a resume skip it. */
export type Validity = { readonly _tag: "Valid" } | { readonly _tag: "Invalid"; readonly reason: string }

export const valid: Validity = { _tag: "Valid" }
export const invalid = (reason: string): Validity => ({ _tag: "Invalid", reason })

/** What a resumed run does with a rule, and why. */
export type Decision = { readonly _tag: "Skip" } | { readonly _tag: "Run"; readonly reason: string }

/** Compares a rule's fingerprint now with its checkpoint, naming what changed. */
export const compare = (now: Checkpoint.Fingerprint, saved: Checkpoint.Checkpoint | undefined): Validity => {
  if (saved === undefined) return invalid("no checkpoint (it did not succeed in the resumed run)")
  if (saved.parts.definition !== now.parts.definition)
    return invalid("its definition changed (SQL, options or target)")
  if (saved.parts.parameters !== now.parts.parameters) return invalid("a parameter it uses changed")
  if (saved.parts.settings !== now.parts.settings) return invalid("the engine settings changed")
  // Equal parts: the fingerprint differs only through an upstream rule, which then runs too.
  if (saved.fingerprint !== now.fingerprint) return invalid("an upstream definition changed")
  return valid
}

/**
 * Decides every rule in plan order. `validity` is asked only for a rule whose dependencies
 * are all skipped (so restoring its output may read theirs), at most once per rule.
 */
export const plan = <E, R>(
  dag: Dag.Plan,
  validity: (id: string) => Effect.Effect<Validity, E, R>
): Effect.Effect<ReadonlyMap<string, Decision>, E, R> =>
  Effect.gen(function* () {
    const decisions = new Map<string, Decision>()
    for (const id of dag.order) {
      const rerun = (dag.dependencies.get(id) ?? []).find((d) => decisions.get(d)?._tag === "Run")
      if (rerun !== undefined) {
        decisions.set(id, { _tag: "Run", reason: `upstream rule ${rerun} runs` })
        continue
      }
      const v = yield* validity(id)
      decisions.set(id, v._tag === "Valid" ? { _tag: "Skip" } : { _tag: "Run", reason: v.reason })
    }
    return decisions
  })

/** The rules a plan skips, in plan order. */
export const skipped = (dag: Dag.Plan, decisions: ReadonlyMap<string, Decision>): ReadonlyArray<string> =>
  dag.order.filter((id) => decisions.get(id)?._tag === "Skip")

/** What {@link choose} is given. */
export interface Candidates {
  /** Every readable record of the batch. */
  readonly records: ReadonlyArray<Ledger.Record>
  /** Record files of the batch that could not be read. */
  readonly unreadable: ReadonlyArray<string>
  /** This run's parameters, as the ledger keeps them. */
  readonly parameters: Readonly<Record<string, string>>
}

const sameParameters = (
  a: Readonly<Record<string, string>>,
  b: Readonly<Record<string, string>>
): boolean => {
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k])
}

const describe = (p: Readonly<Record<string, string>>): string =>
  Object.keys(p).length === 0
    ? "no parameters"
    : Object.entries(p)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ")

/**
 * The run to resume from, or why there is none to trust: no run of the batch with these
 * parameters, the latest one succeeded (nothing to resume), the named run is unknown, has
 * other parameters, succeeded, or was followed by a run with the same parameters (which may
 * have rewritten its outputs), or a record cannot be read (the latest might be that one).
 */
export const choose = (request: Request, candidates: Candidates): Result.Result<Ledger.Record, string> => {
  const newestFirst = [...candidates.records].sort((a, b) =>
    a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0
  )
  const same = newestFirst.filter((r) => sameParameters(r.parameters, candidates.parameters))
  const unreadable =
    candidates.unreadable.length > 0
      ? `; ${candidates.unreadable.length === 1 ? "a record" : "records"} of the batch cannot be read (${candidates.unreadable.join(", ")})`
      : ""
  if (request._tag === "Run") {
    const named = Option.fromNullishOr(newestFirst.find((r) => r.runId === request.runId))
    if (Option.isNone(named))
      return Result.fail(`no readable run ${request.runId} of this batch in the ledger${unreadable}`)
    const run = named.value
    if (!sameParameters(run.parameters, candidates.parameters))
      return Result.fail(
        `run ${run.runId} ran with other parameters (${describe(run.parameters)}; now ${describe(candidates.parameters)})`
      )
    if (run.status === "succeeded")
      return Result.fail(`run ${run.runId} succeeded: there is nothing to resume`)
    const later = same.find((r) => r.startedAt > run.startedAt)
    if (later !== undefined)
      return Result.fail(
        `run ${later.runId}, started after run ${run.runId} with the same parameters, may have rewritten its outputs (resume ${later.runId} instead)`
      )
    if (candidates.unreadable.length > 0)
      return Result.fail(`a later run might have rewritten the outputs of run ${run.runId}${unreadable}`)
    return Result.succeed(run)
  }
  if (candidates.unreadable.length > 0) return Result.fail(`the latest run cannot be told${unreadable}`)
  const latest = same[0]
  if (latest === undefined)
    return Result.fail(`no earlier run of this batch with ${describe(candidates.parameters)}`)
  if (latest.status === "succeeded")
    return Result.fail(
      `the latest run with these parameters, ${latest.runId}, succeeded: there is nothing to resume`
    )
  return Result.succeed(latest)
}

/**
 * The rejection of an explicit resume with nothing trustworthy to resume from (exit 3): the
 * reason, and what the operator does instead.
 */
export const refusal = (reason: string): Failure.ConfigRejected => {
  const message = `${reason}; run without --resume for a fresh delete-and-load`
  return Failure.rejected(
    [{ file: "command line", line: 1, column: 1, field: "--resume", message }],
    "RESUME_REFUSED"
  )
}

/** Why a batch refuses every explicit resume, if it does (`resume: never`). */
export const forbidden = (batch: Batch.Batch): string | undefined =>
  batch.resume === "never" ? `the batch file says resume: never (${batch.file})` : undefined

/** The run a resumed run starts from, and the checkpoints it trusts. */
export interface Resuming {
  readonly from: Ledger.Record
  readonly checkpoints: ReadonlyMap<string, Checkpoint.Checkpoint>
}

/**
 * The run `request` (`Latest` or `Run`) resumes for `batch` with its parameters, and its
 * checkpoints; or why there is nothing trustworthy to resume from (see {@link choose}; also an
 * unreadable ledger or checkpoint journal).
 */
export const select = (
  ledgerDir: string,
  batch: Batch.Batch,
  request: Exclude<Request, { readonly _tag: "Fresh" }>
): Effect.Effect<Result.Result<Resuming, string>, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const parameters = Parameter.toText(batch.parameters)
    const found = yield* Effect.result(candidates(ledgerDir, batch.name, request, parameters))
    if (found._tag === "Failure")
      return Result.fail(`the run ledger cannot be read: ${found.failure.message}`)
    const chosen = choose(request, { ...found.success, parameters })
    if (chosen._tag === "Failure") return Result.fail(chosen.failure)
    const from = chosen.success
    const path = yield* Path.Path
    const journal = yield* Effect.result(
      Checkpoint.read(Checkpoint.journalFile(path, ledgerDir, batch.name, from.runId))
    )
    if (journal._tag === "Failure")
      return Result.fail(`the checkpoints of run ${from.runId} cannot be read: ${journal.failure.message}`)
    return Result.succeed({ from, checkpoints: journal.success })
  })

/**
 * The records {@link choose} needs, reading no more of the ledger than that (a batch's history
 * of 10,000-rule records is large): newest first until the latest run with these parameters;
 * or the named run and every record written after it. Unreadable ones among them are named.
 */
const candidates = (
  ledgerDir: string,
  batch: string,
  request: Exclude<Request, { readonly _tag: "Fresh" }>,
  parameters: Readonly<Record<string, string>>
): Effect.Effect<Omit<Candidates, "parameters">, LedgerError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const all = yield* Ledger.files(ledgerDir, batch)
    const records: Array<Ledger.Record> = []
    const unreadable: Array<string> = []
    const take = (file: string) =>
      Effect.map(Effect.result(Ledger.read(file)), (r) => {
        if (r._tag === "Success") records.push(r.success)
        else unreadable.push(file)
        return r._tag === "Success" ? Option.some(r.success) : Option.none<Ledger.Record>()
      })
    if (request._tag === "Latest") {
      for (const { file } of all) {
        const record = yield* take(file)
        if (Option.isSome(record) && sameParameters(record.value.parameters, parameters)) break
      }
      return { records, unreadable }
    }
    const named = all.find((f) => f.file.endsWith(`/${request.runId}.json`))
    if (named === undefined) return { records, unreadable }
    yield* take(named.file)
    // Written in the same instant counts as after: a clock tick is coarser than two runs.
    for (const f of all) if (f !== named && f.mtimeMs >= named.mtimeMs) yield* take(f.file)
    return { records, unreadable }
  })

/** A rule's line in what `plan --resume` shows. */
export interface Preview {
  readonly ruleId: string
  readonly decision: Decision
  /** For a skipped rule: the run whose output it is skipped on. */
  readonly checkpointOf?: string
  /** Said when the output could not be looked at without the engine. */
  readonly note?: string
}

/**
 * What a resume of `resuming` would skip and run, and why, without an engine: checkpoints are
 * compared, and outputs looked for where the target store can tell without one (the
 * filesystem's can; a run also reads each one back before it trusts it).
 */
export const preview = (
  batch: Batch.Batch,
  registry: Plugin.Registry["Service"],
  resuming: Resuming,
  store: Option.Option<TargetStore.TargetStore["Service"]>
): Effect.Effect<ReadonlyArray<Preview>, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const prints = yield* Checkpoint.ofBatch(batch, registry)
    const targets = new Map(batch.targets.targets.map((t) => [t.ruleId, t]))
    const rules = new Map(batch.rules.map((r) => [r.id, r]))
    const notes = new Map<string, string>()
    const decisions = yield* plan(batch.plan, (id) =>
      Effect.gen(function* () {
        const compared = compare(prints.get(id)!, resuming.checkpoints.get(id))
        if (compared._tag === "Invalid") return compared
        const kind = rules.get(id)!.kind
        const runner = registry.get(kind)
        if (Option.isNone(runner) || !runner.value.restores)
          return invalid(`it cannot be restored: rule kind "${kind}" cannot restore a skipped rule`)
        const target = targets.get(id)
        if (target === undefined) return compared
        const exists = Option.isSome(store) ? store.value.exists : undefined
        if (exists === undefined) {
          notes.set(id, "its output is read back when the resume runs")
          return compared
        }
        return (yield* exists(target)) ? compared : invalid(`its output ${target.location} is missing`)
      })
    )
    return batch.plan.order.map((id) => {
      const decision = decisions.get(id)!
      const checkpointOf = decision._tag === "Skip" ? resuming.checkpoints.get(id)?.writtenBy : undefined
      const note = notes.get(id)
      return {
        ruleId: id,
        decision,
        ...(checkpointOf !== undefined ? { checkpointOf } : {}),
        ...(note !== undefined && decision._tag === "Skip" ? { note } : {})
      }
    })
  })
