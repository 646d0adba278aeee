/**
 * The run ledger: one JSON record per run, at `<dir>/<batch>/<runId>.json`, always replaced
 * atomically (temp file, fsync, rename, fsync of the directory: core's AtomicFile) so a reader
 * never sees half a record. While the run lives, a heartbeat refreshes it every few seconds. A
 * lock file `<dir>/<batch>/lock` (core's FileLock, created exclusively) says which run holds the
 * batch: a second run is refused while the holder's heartbeat is fresh; a holder whose heartbeat
 * went stale (or whose process is gone) is marked `crashed` and replaced, and the caller is told
 * so it can report the crash.
 *
 * Rules are keyed by id with a state, an attempt count, timings and the error. Their
 * checkpoints are in the run's journal beside the record (see Checkpoint).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Option from "effect/Option"
import * as Path from "effect/Path"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Semaphore from "effect/Semaphore"
import type * as Scope from "effect/Scope"
import { LedgerError } from "./Errors.js"
import * as Event from "./Event.js"
import * as Failure from "./Failure.js"
import * as AtomicFile from "./internal/atomicFile.js"
import * as FileLock from "./internal/fileLock.js"

/** Version of the record format; readers refuse versions they do not know. */
export const formatVersion = 1

/** A rule's entry in the record. */
export const RuleEntry = Schema.Struct({
  /** `skipped`: a resumed run found its checkpoint valid and did not run it. */
  state: Schema.Literals(["pending", "running", "succeeded", "failed", "interrupted", "not_run", "skipped"]),
  /** Attempts made so far (0 before the first). */
  attempt: Schema.Number,
  startedAt: Schema.optionalKey(Schema.String),
  endedAt: Schema.optionalKey(Schema.String),
  durationMs: Schema.optionalKey(Schema.Number),
  error: Schema.optionalKey(Event.FailurePayload),
  /** In a resumed run: why the rule ran (e.g. its definition changed), or whose checkpoint it skipped on. */
  reason: Schema.optionalKey(Schema.String)
})
export type RuleEntry = typeof RuleEntry.Type

/** The run's status in the record. */
export const Status = Schema.Literals(["running", "succeeded", "failed", "aborted", "crashed"])
export type Status = typeof Status.Type

/** One run's record. */
export const Record = Schema.Struct({
  version: Schema.Literal(formatVersion),
  runId: Schema.String,
  batch: Schema.String,
  batchFile: Schema.String,
  parameters: Schema.Record(Schema.String, Schema.String),
  pid: Schema.Number,
  host: Schema.String,
  status: Status,
  startedAt: Schema.String,
  heartbeatAt: Schema.String,
  endedAt: Schema.optionalKey(Schema.String),
  engineSessionId: Schema.optionalKey(Schema.String),
  /** The run this one resumed (its checkpoints are the ones it trusted). */
  resumedFrom: Schema.optionalKey(Schema.String),
  /** The batch's engine settings, as given to the engine session (applied in preflight). */
  engineSettings: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  rules: Schema.Record(Schema.String, RuleEntry),
  /** The phase the run ended in (see Event.Phase). */
  phase: Schema.optionalKey(Event.Phase),
  /**
   * The run ended without seeing its engine work stop (the engine did not answer the
   * interrupt): the next run of the batch, or `status`, fences its session before cleaning.
   */
  unfenced: Schema.optionalKey(Schema.Boolean),
  /**
   * Engine operations a fence interrupted without seeing their end (a fence of this run that
   * failed for it, or this run's own): the next fence waits for their end as well.
   */
  pendingOperations: Schema.optionalKey(Schema.Array(Schema.String)),
  /** When, and by which run, an unfenced run's session was fenced. */
  fencedAt: Schema.optionalKey(Schema.String),
  fencedBy: Schema.optionalKey(Schema.String),
  /**
   * The terminal event, recorded with the outcome before it is published; `terminalEventSent`
   * once the reporter has it (delivered or spooled). A run killed in between leaves it unsent,
   * and its successor publishes this same event (same id) instead of reporting a crash.
   */
  terminalEvent: Schema.optionalKey(Event.Event),
  terminalEventSent: Schema.optionalKey(Schema.Boolean),
  outcome: Schema.optionalKey(
    Schema.Struct({
      exitCode: Schema.Number,
      ruleId: Schema.optionalKey(Schema.String),
      failure: Schema.optionalKey(Event.FailurePayload)
    })
  )
})
export type Record = typeof Record.Type

const RecordJson = Schema.fromJsonString(Record)

/** A run's open ledger entry. */
export interface Handle {
  readonly file: string
  /** The record as last written. */
  readonly current: Effect.Effect<Record>
  /** Changes the record and writes it atomically now; writes are serialized. */
  readonly update: (f: (record: Record) => Record) => Effect.Effect<void, LedgerError>
  /**
   * Changes the record in memory; the background flush writes it within `flushEvery`. For
   * frequent changes (rule transitions), so a 10,000-rule batch does not rewrite its record
   * 20,000 times.
   */
  readonly stage: (f: (record: Record) => Record) => Effect.Effect<void>
}

/** How to open an entry. */
export interface OpenOptions {
  readonly dir: string
  /** The initial record; `status` is forced to `running`. */
  readonly record: Record
  /** Heartbeat period; default 5 seconds. */
  readonly heartbeat?: Duration.Duration
  /** How often staged changes are written; default 1 second. */
  readonly flushEvery?: Duration.Duration
  /** A holder silent for longer is considered crashed; default 30 seconds. */
  readonly staleAfter?: Duration.Duration
  /** Whether a process of this host is alive; default `process.kill(pid, 0)`. */
  readonly isAlive?: (pid: number) => boolean
  /**
   * Stops what a stale holder left running on the engine, before its lock is taken over. It
   * fails when the engine cannot be reached: the lock then stays with the stale holder, and
   * the next attempt fences again.
   */
  readonly fence?: (stale: Record) => Effect.Effect<void, Failure.EngineUnreachable>
  /**
   * Reports a stale holder's crash (batch.crashed), after the fence and before its record is
   * marked `crashed`: a successor killed in between reports it again, never not at all.
   */
  readonly report?: (stale: Record) => Effect.Effect<void>
  /** Publishes a closed predecessor's terminal event that it recorded but did not send. */
  readonly republish?: (event: Event.Event) => Effect.Effect<void>
}

/** The entry, and the predecessor found crashed (if any), for the caller to report. */
export interface Opened {
  readonly handle: Handle
  readonly crashed: Option.Option<Record>
  /** What was settled of earlier runs before this one could start. */
  readonly settled: Settled
}

/** What {@link settle} did. */
export interface Settled {
  /** Runs whose session was fenced because they had ended unfenced. */
  readonly fenced: ReadonlyArray<Record>
  /** Runs whose recorded terminal event was published on their behalf. */
  readonly republished: ReadonlyArray<Record>
}

const nowIso = Effect.map(
  Effect.clockWith((c) => c.currentTimeMillis),
  (ms) => new Date(ms).toISOString()
)

/** Writes `text` to `file` atomically and durably: temp file, fsync, rename, fsync of the directory. */
const writeAtomic = (file: string, text: string): Effect.Effect<void, LedgerError, FileSystem.FileSystem> =>
  AtomicFile.write(file, text).pipe(
    Effect.mapError((e) => new LedgerError({ path: file, message: e.message }))
  )

/**
 * A fence that failed leaving operations whose end it did not see: they go into the fenced
 * run's record (`record`, without the ones it had before, which this fence waited for too), so
 * that the next fence waits for them; the fence's failure stands.
 */
const keepPending =
  (file: string, record: Record) =>
  <R>(
    fence: Effect.Effect<void, Failure.EngineUnreachable, R>
  ): Effect.Effect<void, Failure.EngineUnreachable | LedgerError, R | FileSystem.FileSystem> =>
    Effect.tapError(fence, (failure) =>
      failure.pendingOperations === undefined || failure.pendingOperations.length === 0
        ? Effect.void
        : writeAtomic(
            file,
            JSON.stringify({ ...record, pendingOperations: failure.pendingOperations }, null, 2)
          )
    )

/** Reads and validates one record. */
export const read = (file: string): Effect.Effect<Record, LedgerError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(file)
    return yield* Schema.decodeUnknownEffect(RecordJson)(text)
  }).pipe(Effect.mapError((e) => new LedgerError({ path: file, message: e.message })))

/** The file of a run's record. */
const fileOf = (path: Path.Path, dir: string, batch: string, runId: string): string =>
  path.join(dir, batch, `${runId}.json`)

/**
 * A batch's record files, most recently written first (a stat each, nothing read): runs of a
 * batch hold its lock one after another, so this is also the order they started in.
 */
export const files = (
  dir: string,
  batch: string
): Effect.Effect<
  ReadonlyArray<{ readonly file: string; readonly mtimeMs: number }>,
  LedgerError,
  FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const batchDir = path.join(dir, batch)
    if (!(yield* fs.exists(batchDir))) return []
    const found: Array<{ file: string; mtimeMs: number }> = []
    for (const name of yield* fs.readDirectory(batchDir)) {
      if (!name.endsWith(".json")) continue
      const file = path.join(batchDir, name)
      const info = yield* fs.stat(file)
      found.push({ file, mtimeMs: Option.match(info.mtime, { onNone: () => 0, onSome: (d) => d.getTime() }) })
    }
    return found.sort((a, b) => b.mtimeMs - a.mtimeMs)
  }).pipe(Effect.mapError((e) => new LedgerError({ path: dir, message: e.message })))

/** Every record of a batch, newest first (what `status` shows). */
export const list = (
  dir: string,
  batch: string
): Effect.Effect<ReadonlyArray<Record>, LedgerError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const batchDir = path.join(dir, batch)
    const exists = yield* fs.exists(batchDir)
    if (!exists) return []
    const names = yield* fs.readDirectory(batchDir)
    const records = yield* Effect.forEach(
      names.filter((n) => n.endsWith(".json")),
      (n) => read(path.join(batchDir, n))
    )
    return [...records].sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0))
  }).pipe(
    Effect.mapError((e) =>
      e instanceof LedgerError ? e : new LedgerError({ path: dir, message: e.message })
    )
  )

const Lock = Schema.fromJsonString(
  Schema.Struct({ runId: Schema.String, pid: Schema.Number, host: Schema.String })
)

/** What {@link reap} found. */
export type Reaped =
  /** Nobody holds the batch. */
  | { readonly _tag: "Free" }
  /** A live run holds it, or another successor is taking it over right now. */
  | { readonly _tag: "Held"; readonly message: string }
  /** A stale holder was fenced, reported and marked; its lock is gone. */
  | { readonly _tag: "Reaped"; readonly crashed: Option.Option<Record> }

/** Where to look for a stale holder, and what to do with one. */
export interface ReapOptions extends Pick<OpenOptions, "staleAfter" | "isAlive" | "fence" | "report"> {
  readonly dir: string
  readonly batch: string
  /** This host: a holder's process is checked only on its own host. */
  readonly host: string
}

/**
 * Takes a batch away from a holder that crashed (heartbeat older than `staleAfter`, or its
 * process gone): fence its engine session, report the crash, mark its record `crashed`, remove
 * its lock. Used by the next run and by `spark-etl status`. Successors serialize on
 * `<batch>/lock.reap`, so a crash is reported once even when two of them look at once.
 */
export const reap = (
  options: ReapOptions
): Effect.Effect<Reaped, Failure.EngineUnreachable | LedgerError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const lockFile = path.join(options.dir, options.batch, "lock")
    const reapFile = `${lockFile}.reap`
    const staleAfter = Duration.toMillis(options.staleAfter ?? Duration.seconds(30))
    const isAlive = options.isAlive ?? FileLock.processIsAlive
    const fail = (e: { readonly message: string }) => new LedgerError({ path: lockFile, message: e.message })
    const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
    const gone = (holder: typeof Lock.Type) => holder.host === options.host && !isAlive(holder.pid)
    const lockOptions: FileLock.LockOptions = {
      host: options.host,
      isAlive,
      staleAfter,
      fields: { runId: "reaper" },
      onBreak: (stale) =>
        Effect.logWarning(
          `ledger: broke ${stale.path}, left by ${FileLock.describe(stale.holder)} dying while taking over`
        )
    }

    if (!(yield* fs.exists(lockFile).pipe(Effect.mapError(fail)))) return { _tag: "Free" } as const
    // One successor at a time; the claim of one that died while reaping is broken by exactly one
    // of the next (FileLock), so two of them never reap at once.
    const claim = yield* FileLock.tryAcquire(reapFile, lockOptions).pipe(Effect.mapError(fail))
    if (claim._tag === "Held") {
      const other = Option.flatMap(claim.holder, (seen) => seen.holder)
      return {
        _tag: "Held",
        message: Option.match(other, {
          onNone: () => `batch "${options.batch}" is being taken over by another run`,
          onSome: (o) =>
            `batch "${options.batch}" is being taken over from a crashed run by pid ${o.pid} on ${o.host}`
        })
      } as const
    }

    return yield* Effect.gen(function* () {
      const seen = yield* FileLock.inspect(lockFile).pipe(Effect.mapError(fail))
      if (Option.isNone(seen)) return { _tag: "Free" } as const
      const read_ = yield* Effect.result(Schema.decodeUnknownEffect(Lock)(seen.value.text))
      if (read_._tag === "Failure") {
        // Torn or foreign (written by no version of ours that links it into place): judged by age.
        const unreadable = `unreadable lock ${lockFile}: ${read_.failure.message}`
        if (seen.value.ageMs < staleAfter)
          return { _tag: "Held", message: `${unreadable}; younger than ${staleAfter} ms` } as const
        yield* Effect.logWarning(`${unreadable}; older than ${staleAfter} ms, removed`)
        yield* FileLock.breakStale(seen.value, lockOptions).pipe(Effect.mapError(fail))
        return { _tag: "Reaped", crashed: Option.none<Record>() } as const
      }
      const holder = read_.success
      const recordFile = fileOf(path, options.dir, options.batch, holder.runId)
      const previous = yield* Effect.option(read(recordFile))
      // A lock without its record yet is a run being born, not a crash, unless it is old.
      const lastSign = Option.isSome(previous)
        ? previous.value.status === "running"
          ? now - Date.parse(previous.value.heartbeatAt)
          : Number.POSITIVE_INFINITY
        : seen.value.ageMs
      if (lastSign < staleAfter && !gone(holder)) {
        const since = Option.isSome(previous) ? `, started ${previous.value.startedAt}` : ""
        return {
          _tag: "Held",
          message: `batch "${options.batch}" is held by run ${holder.runId} (pid ${holder.pid} on ${holder.host}${since}), alive`
        } as const
      }
      let crashed = Option.none<Record>()
      if (Option.isSome(previous) && previous.value.status === "running") {
        const { pendingOperations: _, ...stale } = previous.value
        if (options.fence !== undefined)
          yield* options.fence(previous.value).pipe(keepPending(recordFile, stale))
        if (options.report !== undefined) yield* options.report(stale)
        const marked: Record = { ...stale, status: "crashed", endedAt: yield* nowIso }
        yield* writeAtomic(recordFile, JSON.stringify(marked, null, 2))
        crashed = Option.some(marked)
      }
      // Only the lock judged here: one its holder replaced meanwhile is left for `open` to meet.
      yield* FileLock.breakStale(seen.value, lockOptions).pipe(Effect.mapError(fail))
      return { _tag: "Reaped", crashed } as const
    }).pipe(Effect.ensuring(FileLock.release(claim.lock)))
  })

/** Where to look for unfinished business of earlier runs, and what to do with it. */
export interface SettleOptions extends Pick<OpenOptions, "fence" | "republish"> {
  readonly dir: string
  readonly batch: string
  /** This run (its own record is left alone). */
  readonly runId?: string
}

/**
 * Settles what earlier, closed runs of the batch left undone: publishes a terminal event one
 * recorded but did not send (same event, same id), and fences the session of one that ended
 * `unfenced` (its engine work may still run: it must stop before targets are cleaned). Both
 * are idempotent, so `status` may settle alongside a run. A fence that fails fails this: the
 * record stays unfenced for the next attempt.
 */
export const settle = (
  options: SettleOptions
): Effect.Effect<Settled, Failure.EngineUnreachable | LedgerError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const batchDir = path.join(options.dir, options.batch)
    const names = (yield* fs.exists(batchDir)) ? yield* fs.readDirectory(batchDir) : []
    // A record this version cannot read (a newer binary's, say) must not block every run: it is
    // named in the log and left alone.
    const records: Array<Record> = []
    for (const name of names.filter((n) => n.endsWith(".json"))) {
      const read_ = yield* Effect.result(read(path.join(batchDir, name)))
      if (read_._tag === "Success") records.push(read_.success)
      else yield* Effect.logWarning(`ledger: skipping ${read_.failure.path}: ${read_.failure.message}`)
    }
    const fenced: Array<Record> = []
    const republished: Array<Record> = []
    for (const found of records) {
      if (found.runId === options.runId || found.status === "running") continue
      let record = found
      const file = fileOf(path, options.dir, options.batch, record.runId)
      // Without a way to send it, an unsent event waits for a caller that has one.
      if (
        record.terminalEvent !== undefined &&
        record.terminalEventSent !== true &&
        options.republish !== undefined
      ) {
        yield* options.republish(record.terminalEvent)
        record = { ...record, terminalEventSent: true }
        yield* writeAtomic(file, JSON.stringify(record, null, 2))
        republished.push(record)
      }
      if (record.unfenced === true && options.fence !== undefined) {
        const { pendingOperations: _, ...rest } = record
        yield* options.fence(record).pipe(keepPending(file, rest))
        record = {
          ...rest,
          unfenced: false,
          fencedAt: yield* nowIso,
          ...(options.runId !== undefined ? { fencedBy: options.runId } : {})
        }
        yield* writeAtomic(file, JSON.stringify(record, null, 2))
        fenced.push(record)
      }
    }
    return { fenced, republished }
  }).pipe(
    Effect.mapError((e) =>
      e._tag === "PlatformError" ? new LedgerError({ path: options.dir, message: e.message }) : e
    )
  )

/**
 * Opens the run's entry: takes the batch's lock, writes the first record and starts the
 * heartbeat. The scope's end stops the heartbeat and releases the lock; the caller records the
 * outcome with `update` before that.
 */
export const open = (
  options: OpenOptions
): Effect.Effect<
  Opened,
  Failure.ConfigRejected | Failure.EngineUnreachable | LedgerError,
  FileSystem.FileSystem | Path.Path | Scope.Scope
> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const { record } = options
    const batchDir = path.join(options.dir, record.batch)
    const lockFile = path.join(batchDir, "lock")
    const file = fileOf(path, options.dir, record.batch, record.runId)
    const fail = (message: string) => new LedgerError({ path: lockFile, message })

    // Both name files: refuse anything that could step outside the ledger directory.
    for (const name of [record.batch, record.runId]) {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
        return yield* new LedgerError({ path: batchDir, message: `unsafe name for a ledger file: "${name}"` })
      }
    }
    yield* fs
      .makeDirectory(batchDir, { recursive: true, mode: 0o700 })
      .pipe(Effect.mapError((e) => fail(e.message)))

    const tryLock = FileLock.tryCreate(lockFile, {
      pid: record.pid,
      host: record.host,
      fields: { runId: record.runId }
    }).pipe(Effect.mapError((e) => fail(e.message)))

    let crashed = Option.none<Record>()
    let lock = yield* tryLock
    if (Option.isNone(lock)) {
      const found = yield* reap({ ...options, dir: options.dir, batch: record.batch, host: record.host })
      if (found._tag === "Held") {
        return yield* Failure.rejected(
          [{ file: lockFile, line: 1, column: 1, field: "lock", message: found.message }],
          "BATCH_LOCKED"
        )
      }
      if (found._tag === "Reaped") crashed = found.crashed
      lock = yield* tryLock
      if (Option.isNone(lock)) {
        return yield* Failure.rejected(
          [
            {
              file: lockFile,
              line: 1,
              column: 1,
              field: "lock",
              message: `batch "${record.batch}" was taken by another run at the same moment`
            }
          ],
          "BATCH_LOCKED"
        )
      }
    }
    const held = lock.value
    // Released only while still ours: a run declared crashed does not remove its successor's.
    yield* Effect.addFinalizer(() => FileLock.release(held))
    const settled = yield* settle({
      dir: options.dir,
      batch: record.batch,
      runId: record.runId,
      ...(options.fence !== undefined ? { fence: options.fence } : {}),
      ...(options.republish !== undefined ? { republish: options.republish } : {})
    })

    const semaphore = yield* Semaphore.make(1)
    let current: Record = { ...record, status: "running" }
    let dirty = false
    // Applies `f` to the latest record (staged changes included) and writes the result; staging
    // during the write marks the record dirty again, so nothing staged is lost.
    const update = (f: (r: Record) => Record): Effect.Effect<void, LedgerError> =>
      Semaphore.withPermits(
        semaphore,
        1
      )(
        Effect.suspend(() => {
          current = f(current)
          dirty = false
          return writeAtomic(file, JSON.stringify(current, null, 2))
        }).pipe(
          Effect.tapError(() => Effect.sync(() => void (dirty = true))),
          Effect.provideService(FileSystem.FileSystem, fs)
        )
      )
    const stage = (f: (r: Record) => Record): Effect.Effect<void> =>
      Effect.sync(() => {
        current = f(current)
        dirty = true
      })
    yield* update((r) => r)

    yield* nowIso.pipe(
      Effect.flatMap((at) => update((r) => ({ ...r, heartbeatAt: at }))),
      Effect.catch((e) => Effect.logWarning(`ledger heartbeat failed: ${e.message}`)),
      Effect.repeat(Schedule.spaced(options.heartbeat ?? Duration.seconds(5))),
      Effect.forkScoped
    )
    yield* Effect.suspend(() => (dirty ? update((r) => r) : Effect.void)).pipe(
      Effect.catch((e) => Effect.logWarning(`ledger write failed: ${e.message}`)),
      Effect.repeat(Schedule.spaced(options.flushEvery ?? Duration.seconds(1))),
      Effect.forkScoped
    )

    return { handle: { file, current: Effect.sync(() => current), update, stage }, crashed, settled }
  })
