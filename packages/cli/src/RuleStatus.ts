/**
 * What `status --rules` shows of a recorded run: each rule's state, attempts, start, duration,
 * why it ran or was skipped (or its failure), and whether its checkpoint would still let a
 * resume skip it. Validity is the run's journal compared with the rule's fingerprint now — from
 * the batch file the run recorded, loaded as `plan` loads it, with the run's parameters (a
 * secret one is `***` in the ledger: it comes from the environment, or the load says what is
 * missing) — and its output looked for where the target store can tell without Spark.
 */
import * as Effect from "effect/Effect"
import type * as FileSystem from "effect/FileSystem"
import * as Option from "effect/Option"
import * as Path from "effect/Path"
import * as Result from "effect/Result"
import {
  Batch,
  Checkpoint,
  Failure,
  type Ledger,
  Parameter,
  Plugin,
  Resume,
  type TargetStore
} from "@spark-etl/core"
import { loadThen } from "./commands/shared.js"

/** How many runs `status --rules` shows, newest first, each with its rules. */
export const shownRuns = 3

/** What a checkpoint is judged against: the batch file as it is now. */
interface Now {
  readonly prints: ReadonlyMap<string, Checkpoint.Fingerprint>
  readonly targets: ReadonlyMap<string, TargetStore.Target>
  /** The target store's engine-free look for an output, when it has one. */
  readonly exists: Option.Option<(target: TargetStore.Target) => Effect.Effect<boolean>>
}

/** The parameters a run recorded that can be given again: a secret's is only `***`. */
export const givenParameters = (recorded: Readonly<Record<string, string>>): Record<string, string> =>
  Object.fromEntries(Object.entries(recorded).filter(([, value]) => value !== Parameter.masked))

/** The recorded run's batch file now, or why it cannot be loaded. */
const now = (
  record: Ledger.Record,
  pluginPath: ReadonlyArray<string>
): Effect.Effect<Result.Result<Now, string>> =>
  loadThen(record.batchFile, givenParameters(record.parameters), pluginPath, (batch) =>
    Effect.gen(function* () {
      const prints = yield* Checkpoint.ofBatch(batch, yield* Plugin.Registry)
      const store = yield* Batch.targetStore(batch.targetStore)
      return {
        prints,
        targets: new Map(batch.targets.targets.map((t) => [t.ruleId, t])),
        exists: Option.flatMap(store, (s) => Option.fromNullishOr(s.exists))
      }
    })
  ).pipe(
    Effect.result,
    Effect.map(
      Result.mapError(
        (f) => `the batch file cannot be loaded now: ${f.issues.map(Failure.formatIssue).join("; ")}`
      )
    )
  )

/** A rule's checkpoint as the table shows it: none, valid, or invalid and why. */
const validity = (
  ruleId: string,
  saved: Checkpoint.Checkpoint | undefined,
  current: Now
): Effect.Effect<string> =>
  Effect.gen(function* () {
    if (saved === undefined) return "none"
    const print = current.prints.get(ruleId)
    if (print === undefined) return "invalid: the rule is no longer in the batch file"
    const compared = Resume.compare(print, saved)
    if (compared._tag === "Invalid") return `invalid: ${compared.reason}`
    const target = current.targets.get(ruleId)
    if (target === undefined || Option.isNone(current.exists)) return "valid"
    return (yield* current.exists.value(target))
      ? "valid"
      : `invalid: its output ${target.location} is missing`
  })

const seconds = (ms: number | undefined) => (ms === undefined ? "" : `${(ms / 1000).toFixed(1)}s`)

/** Why the rule ran or was skipped (a resumed run says), then its failure. */
const reasonOf = (entry: Ledger.RuleEntry): string =>
  [
    ...(entry.reason !== undefined ? [entry.reason] : []),
    ...(entry.error !== undefined ? [`[${entry.error.code}] ${entry.error.message.split("\n")[0]}`] : [])
  ].join("; ")

/** Rows padded into columns, trailing spaces cut. */
const columns = (rows: ReadonlyArray<ReadonlyArray<string>>): ReadonlyArray<string> => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => `  ${r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ")}`.trimEnd())
}

/** What the journal of a run, and the batch file now, say of its checkpoints. */
export interface Judged {
  readonly journal: Result.Result<ReadonlyMap<string, Checkpoint.Checkpoint>, string>
  /** Absent when the journal holds no checkpoint to judge (the batch file is not loaded then). */
  readonly now?: Result.Result<Now, string>
}

/** The rules table of one run, under a line saying when validity cannot be told. */
export const ruleLines = (record: Ledger.Record, judged: Judged): Effect.Effect<ReadonlyArray<string>> =>
  Effect.gen(function* () {
    const notes = [
      ...(Result.isFailure(judged.journal)
        ? [`  checkpoints cannot be read: ${judged.journal.failure}`]
        : []),
      ...(judged.now !== undefined && Result.isFailure(judged.now)
        ? [`  checkpoint validity unknown: ${judged.now.failure}`]
        : [])
    ]
    const rows: Array<ReadonlyArray<string>> = [
      ["rule", "state", "attempts", "started", "time", "checkpoint", "reason"]
    ]
    for (const [id, entry] of Object.entries(record.rules)) {
      const saved = Result.isSuccess(judged.journal) ? judged.journal.success.get(id) : undefined
      const checkpoint = Result.isFailure(judged.journal)
        ? "unreadable"
        : saved === undefined || judged.now === undefined
          ? "none"
          : Result.isFailure(judged.now)
            ? "recorded (validity unknown)"
            : yield* validity(id, saved, judged.now.success)
      rows.push([
        id,
        entry.state,
        String(entry.attempt),
        entry.startedAt ?? "",
        seconds(entry.durationMs),
        checkpoint,
        reasonOf(entry)
      ])
    }
    return [...notes, ...(rows.length > 1 ? columns(rows) : ["  (no rules recorded)"])]
  })

/**
 * Reads the journal of each run and, when it holds checkpoints, the batch file now (loaded
 * once per file and parameters), for {@link ruleLines}.
 */
export const judge = (
  ledgerDir: string,
  records: ReadonlyArray<Ledger.Record>,
  pluginPath: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<Judged>, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const loaded = new Map<string, Result.Result<Now, string>>()
    const judged: Array<Judged> = []
    for (const record of records) {
      const journal = yield* Checkpoint.read(
        Checkpoint.journalFile(path, ledgerDir, record.batch, record.runId)
      ).pipe(Effect.result, Effect.map(Result.mapError((e) => `${e.path}: ${e.message}`)))
      if (Result.isFailure(journal) || journal.success.size === 0) {
        judged.push({ journal })
        continue
      }
      const key = JSON.stringify([record.batchFile, givenParameters(record.parameters)])
      const current = loaded.get(key) ?? (yield* now(record, pluginPath))
      loaded.set(key, current)
      judged.push({ journal, now: current })
    }
    return judged
  })
