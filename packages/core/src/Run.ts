/**
 * One run of a batch, in the order of the architecture: load and validate (a rejection ends
 * the run before any side effect) → open the ledger entry (refused while another run holds the
 * batch; a crashed predecessor is reported) → clean every target → `batch.started` → execute →
 * the terminal event → close the ledger entry. The outcome carries the process exit code.
 *
 * Every transition is logged through Effect's logger (annotated with run id, batch and rule)
 * and published to the `EventSink`; the CLI adapts both to pino and Kafka.
 */
import { Clock, Deferred, Duration, Effect, Option } from "effect"
import { createHash } from "node:crypto"
import * as Os from "node:os"
import * as Batch from "./Batch.js"
import * as Event from "./Event.js"
import * as Executor from "./Executor.js"
import { ExitCode } from "./ExitCode.js"
import * as Failure from "./Failure.js"
import * as Ledger from "./Ledger.js"
import * as Parameter from "./Parameter.js"
import * as Plugin from "./Plugin.js"

/** How to run. */
export interface Options {
  readonly batchFile: string
  /** `--param name=value` pairs. */
  readonly params?: Readonly<Record<string, string>>
  /** The environment, for parameters that declare `env`. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Directory of the run ledger. */
  readonly ledgerDir: string
  /** Default: a random UUID. */
  readonly runId?: string
  /** Overrides the batch file's `engine.parallelism`. */
  readonly parallelism?: number
  /**
   * Completes when the run must stop (e.g. on the first SIGINT/SIGTERM). Run once, in the
   * background, for the whole run; its result is checked before cleanup, before each rule starts
   * and while rules run.
   */
  readonly stop?: Effect.Effect<Failure.Interrupted>
  /** The run's JSON log file, named in events so L2 knows where to look. */
  readonly logFile?: string
  /** Default: this host's name and process id. */
  readonly host?: string
  readonly pid?: number
  /** The engine session this run uses, recorded in the ledger so a successor can fence it. */
  readonly engineSessionId?: string
  /**
   * Stops whatever a crashed predecessor left running on the engine (its session's operations),
   * so no zombie query writes into the targets this run is about to clean. Called before the
   * predecessor's lock is taken over; when the engine cannot be reached it fails, and so does
   * this run (system), leaving the lock for the next attempt to fence again.
   */
  readonly fence?: (predecessor: Ledger.Record) => Effect.Effect<void, Failure.EngineUnreachable>
  /** Ledger heartbeat period (default 5 s) and staleness limit (default 30 s). */
  readonly heartbeat?: Duration.Duration
  readonly staleAfter?: Duration.Duration
}

/** How a run ended. */
export interface Outcome {
  readonly runId: string
  /** The batch's name from its file, or the file's base name when the file was not readable. */
  readonly batch: string
  readonly status: "succeeded" | "failed" | "aborted" | "rejected"
  readonly exitCode: ExitCode
  readonly failure?: Failure.Failure
  /** The executor's report, when rules were executed. */
  readonly report?: Executor.Report
  /** The predecessor found crashed, so the caller can fence its engine session. */
  readonly crashedPredecessor?: Ledger.Record
}

/** Services a run needs. */
export type Requirements = Batch.Requirements | Event.EventSink

const iso = (ms: number) => new Date(ms).toISOString()

/**
 * The batch.crashed event of a run that stopped without an outcome. Its id is derived from the
 * crashed run's id, so a report repeated by a successor that was itself killed mid-takeover
 * carries the same id and consumers can drop the copy.
 */
export const crashedEvent = (p: Ledger.Record, time: string): Event.Event => {
  const hash = createHash("sha1").update(`spark-etl:batch.crashed:${p.runId}`).digest("hex")
  // A name-based UUID (version 5 layout) from the hash.
  const variant = ((parseInt(hash.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)
  const id = `${hash.slice(0, 8)}-${hash.slice(8, 12)}-5${hash.slice(13, 16)}-${variant}${hash.slice(18, 20)}-${hash.slice(20, 32)}`
  return {
    id,
    type: "batch.crashed",
    time,
    batch: p.batch,
    runId: p.runId,
    host: p.host,
    pid: p.pid,
    parameters: p.parameters,
    failure: {
      category: "system",
      code: "RUN_CRASHED",
      message: `run ${p.runId} stopped without an outcome (last heartbeat ${p.heartbeatAt})`,
      restartMayHelp: true
    }
  }
}

/** Runs a batch file to its outcome; never fails: every failure is in the outcome. */
export const run = (options: Options): Effect.Effect<Outcome, never, Requirements> =>
  Effect.suspend(() => runWithId(options, options.runId ?? crypto.randomUUID()))

const runWithId = (options: Options, runId: string): Effect.Effect<Outcome, never, Requirements> =>
  Effect.gen(function* () {
    const host = options.host ?? Os.hostname()
    const pid = options.pid ?? process.pid
    const sink = yield* Event.EventSink
    const fallbackName = options.batchFile.replace(/^.*[\\/]/, "").replace(/\.ya?ml$/, "")
    let batchName = fallbackName
    let parameters: Record<string, string> = { ...options.params }

    const emit = (type: Event.EventType, extra: Partial<Event.Event> = {}) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        yield* sink.publish({
          id: crypto.randomUUID(),
          type,
          time: iso(now),
          batch: batchName,
          runId,
          host,
          pid,
          parameters,
          ...(options.logFile !== undefined ? { logFile: options.logFile } : {}),
          ...extra
        })
      })

    const finish = (status: Outcome["status"], failure?: Failure.Failure, report?: Executor.Report) =>
      Effect.gen(function* () {
        const exitCode = failure === undefined ? ExitCode.Success : Failure.toExitCode(failure)
        const type: Event.EventType =
          status === "succeeded" ? "batch.succeeded" : status === "aborted" ? "batch.aborted" : "batch.failed"
        if (failure !== undefined) {
          yield* (failure.category === "system" ? Effect.logError : Effect.logWarning)(
            `batch ${status}: [${failure.code}] ${failure.message}`
          )
        } else yield* Effect.logInfo("batch succeeded")
        yield* emit(type, {
          exitCode,
          ...(report !== undefined ? { durationMs: report.durationMs } : {}),
          ...(failure !== undefined ? { failure: Failure.toEventPayload(failure) } : {}),
          ...(failure?.ruleId !== undefined ? { ruleId: failure.ruleId } : {})
        })
        return {
          runId,
          batch: batchName,
          status,
          exitCode,
          ...(failure !== undefined ? { failure } : {}),
          ...(report !== undefined ? { report } : {})
        } satisfies Outcome
      })

    const loaded = yield* Effect.result(
      Batch.load(options.batchFile, {
        ...(options.params !== undefined ? { params: options.params } : {}),
        ...(options.env !== undefined ? { env: options.env } : {})
      })
    )
    if (loaded._tag === "Failure") return yield* finish("rejected", loaded.failure)
    const batch = loaded.success
    batchName = batch.name
    parameters = Parameter.toText(batch.parameters)
    return yield* Effect.scoped(execute(options, batch, runId, host, pid, emit, finish))
  }).pipe(
    Effect.ensuring(Effect.flatMap(Event.EventSink, (sink) => sink.flush)),
    Effect.annotateLogs({ runId })
  )

type Emit = (type: Event.EventType, extra?: Partial<Event.Event>) => Effect.Effect<void>
type Finish = (
  status: Outcome["status"],
  failure?: Failure.Failure,
  report?: Executor.Report
) => Effect.Effect<Outcome>

const execute = (
  options: Options,
  batch: Batch.Batch,
  runId: string,
  host: string,
  pid: number,
  emit: Emit,
  finish: Finish
) =>
  Effect.gen(function* () {
    const startedAt = yield* Clock.currentTimeMillis
    const sink = yield* Event.EventSink
    const opened = yield* Effect.result(
      Ledger.open({
        dir: options.ledgerDir,
        record: {
          version: Ledger.formatVersion,
          runId,
          batch: batch.name,
          batchFile: batch.file,
          parameters: Parameter.toText(batch.parameters),
          pid,
          host,
          status: "running",
          startedAt: iso(startedAt),
          heartbeatAt: iso(startedAt),
          ...(options.engineSessionId !== undefined ? { engineSessionId: options.engineSessionId } : {}),
          rules: Object.fromEntries(batch.plan.order.map((id) => [id, { state: "pending", attempt: 0 }]))
        },
        ...(options.heartbeat !== undefined ? { heartbeat: options.heartbeat } : {}),
        ...(options.staleAfter !== undefined ? { staleAfter: options.staleAfter } : {}),
        ...(options.fence !== undefined ? { fence: options.fence } : {}),
        report: (p) =>
          Effect.andThen(
            Effect.logWarning(`previous run ${p.runId} (pid ${p.pid} on ${p.host}) crashed; reporting it`),
            Effect.flatMap(Clock.currentTimeMillis, (now) => sink.publish(crashedEvent(p, iso(now))))
          )
      })
    )
    if (opened._tag === "Failure") {
      const error = opened.failure
      switch (error._tag) {
        case "ConfigRejected":
          return yield* finish("rejected", error)
        case "EngineUnreachable":
          return yield* finish("failed", error)
        default:
          return yield* finish(
            "failed",
            new Failure.Defect({ code: "LEDGER_UNAVAILABLE", message: `run ledger: ${error.message}` })
          )
      }
    }
    const { handle, crashed } = opened.success

    const close = (outcome: Outcome): Effect.Effect<Outcome> =>
      Effect.gen(function* () {
        const endedAt = yield* Clock.currentTimeMillis
        yield* handle
          .update((r) => ({
            ...r,
            status: outcome.status === "rejected" ? "failed" : outcome.status,
            endedAt: iso(endedAt),
            outcome: {
              exitCode: outcome.exitCode,
              ...(outcome.failure?.ruleId !== undefined ? { ruleId: outcome.failure.ruleId } : {}),
              ...(outcome.failure !== undefined ? { failure: Failure.toEventPayload(outcome.failure) } : {})
            }
          }))
          .pipe(Effect.catch((e) => Effect.logError(`could not close the run ledger: ${e.message}`)))
        return Option.isSome(crashed) ? { ...outcome, crashedPredecessor: crashed.value } : outcome
      })

    // The stop request, watched for the whole run; one that came already stops us before any
    // target is touched.
    const stop = yield* Deferred.make<Failure.Interrupted>()
    if (options.stop !== undefined) {
      yield* options.stop.pipe(
        Effect.flatMap((f) => Deferred.succeed(stop, f)),
        Effect.forkScoped({ startImmediately: true })
      )
    }
    if (Deferred.isDoneUnsafe(stop)) {
      return yield* Effect.flatMap(
        Effect.flatMap(Deferred.await(stop), (f) => finish("aborted", f)),
        close
      )
    }

    // Delete-and-load: every target is emptied before any rule runs.
    const store = yield* Batch.targetStore(batch.targetStore)
    const cleaned = yield* Effect.result(
      Effect.forEach(batch.targets.targets, (target) =>
        Option.match(store, {
          // Load checked the targets with this store, so it is there; say so plainly if not.
          onNone: (): Effect.Effect<void, Failure.TargetError> =>
            Effect.fail(
              new Failure.TargetError({
                message: `no target store "${batch.targetStore}"`,
                ruleId: target.ruleId
              })
            ),
          onSome: (s) => s.clean(batch.targets, target)
        }).pipe(Effect.tap(() => Effect.logDebug(`cleaned ${target.location}`)))
      )
    )
    if (cleaned._tag === "Failure") {
      return yield* Effect.flatMap(finish("failed", cleaned.failure), close)
    }

    yield* Effect.logInfo(`batch started: ${batch.rules.length} rules`)
    yield* emit("batch.started")

    const registry = yield* Plugin.Registry
    const rules = new Map(batch.rules.map((r) => [r.id, r]))
    const runRule: Executor.RunRule = (id, attempt) => {
      const rule = rules.get(id)!
      return Option.match(registry.get(rule.kind), {
        onNone: () =>
          Effect.fail(new Failure.Defect({ message: `no runner for kind ${rule.kind}`, ruleId: id })),
        onSome: (runner) =>
          runner.run({
            runId,
            attempt,
            batch: {
              name: batch.name,
              dir: batch.dir,
              parameters: batch.parameters,
              settings: batch.engine.settings
            },
            rule: {
              id,
              kind: rule.kind,
              dependsOn: rule.dependsOn,
              ...(rule.target !== undefined ? { target: rule.target } : {})
            },
            options: rule.options
          })
      })
    }

    const onTransition = (t: Executor.Transition): Effect.Effect<void> =>
      Effect.gen(function* () {
        if (t._tag === "RuleStarted") {
          const kind = rules.get(t.id)!.kind
          yield* Effect.logInfo("rule started").pipe(Effect.annotateLogs({ rule: t.id }))
          yield* emit("rule.started", { ruleId: t.id, ruleKind: kind, attempt: t.attempt })
          yield* ledgerRule(t.id, { state: "running", attempt: t.attempt, startedAt: iso(t.at) })
          return
        }
        const r = t.result
        const entry: Ledger.RuleEntry = {
          state: r.state,
          attempt: r.attempt,
          ...(r.startedAt !== undefined ? { startedAt: iso(r.startedAt) } : {}),
          ...(r.endedAt !== undefined ? { endedAt: iso(r.endedAt) } : {}),
          ...(r.durationMs !== undefined ? { durationMs: r.durationMs } : {}),
          ...(r.failure !== undefined ? { error: Failure.toEventPayload(r.failure) } : {})
        }
        yield* ledgerRule(r.id, entry)
        if (r.state === "not_run" || r.state === "pending") return
        const kind = rules.get(r.id)!.kind
        const common = {
          ruleId: r.id,
          ruleKind: kind,
          attempt: r.attempt,
          ...(r.durationMs !== undefined ? { durationMs: r.durationMs } : {})
        }
        if (r.state === "succeeded") {
          yield* Effect.logInfo(`rule succeeded in ${r.durationMs ?? 0} ms`).pipe(
            Effect.annotateLogs({ rule: r.id })
          )
          yield* emit("rule.succeeded", common)
          return
        }
        const failure =
          r.failure ?? new Failure.Interrupted({ message: "interrupted: the batch stopped", ruleId: r.id })
        yield* Effect.logWarning(`rule ${r.state}: [${failure.code}] ${failure.message}`).pipe(
          Effect.annotateLogs({ rule: r.id })
        )
        yield* emit("rule.failed", { ...common, failure: Failure.toEventPayload(failure) })
      })

    // Rule states are staged and flushed every second (and at the close), not written per
    // transition; one mutable table, so a transition costs O(1) however many rules there are.
    const ruleEntries: Record<string, Ledger.RuleEntry> = { ...(yield* handle.current).rules }
    const ledgerRule = (id: string, entry: Ledger.RuleEntry) => {
      ruleEntries[id] = entry
      return handle.stage((r) => (r.rules === ruleEntries ? r : { ...r, rules: ruleEntries }))
    }

    const report = yield* Executor.execute(batch.plan, runRule, {
      parallelism: options.parallelism ?? batch.engine.parallelism,
      onTransition,
      stop,
      ...(batch.engine.ruleTimeoutSeconds !== undefined
        ? { ruleTimeout: Duration.seconds(batch.engine.ruleTimeoutSeconds) }
        : {})
    }).pipe(
      // Interrupted from outside (not through `stop`): still say so, as far as we can.
      Effect.onInterrupt(() =>
        Effect.flatMap(
          finish("aborted", new Failure.Interrupted({ message: "the run was interrupted by its caller" })),
          close
        )
      )
    )
    const outcome = yield* finish(report.status, report.failure, report)
    return yield* close(outcome)
  }).pipe(Effect.annotateLogs({ runId, batch: batch.name }))
