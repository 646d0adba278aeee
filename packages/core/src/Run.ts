/**
 * One run of a batch, in the order of the architecture: load and validate (a rejection ends
 * the run before any side effect) → open the ledger entry (refused while another run holds the
 * batch; a crashed or unfenced predecessor is fenced first) → preflight: each runner prepares
 * its engine session and analyses every rule without executing it → clean every target →
 * `batch.started` → execute → fence this run's own engine work if it did not end cleanly → the
 * terminal event, recorded in the ledger with the outcome before it is published → close.
 * Nothing is deleted before the engine has answered and every rule has been analysed. The
 * outcome carries the process exit code.
 *
 * Every transition is logged through Effect's logger (annotated with run id, batch and rule)
 * and published to the `EventSink`; the CLI adapts both to pino and Kafka.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FileSystem from "effect/FileSystem"
import * as Option from "effect/Option"
import * as Path from "effect/Path"
import * as Queue from "effect/Queue"
import { createHash } from "node:crypto"
import * as Os from "node:os"
import * as Batch from "./Batch.js"
import * as Checkpoint from "./Checkpoint.js"
import * as Event from "./Event.js"
import * as Executor from "./Executor.js"
import { ExitCode } from "./ExitCode.js"
import * as Failure from "./Failure.js"
import * as Ledger from "./Ledger.js"
import * as Parameter from "./Parameter.js"
import * as Plugin from "./Plugin.js"
import * as Resume from "./Resume.js"
import * as Retry from "./Retry.js"

/**
 * What a run's fence of its own engine work saw: the engine confirmed that it stopped, or not,
 * with the operations it interrupted whose end it did not see (empty when it could not look).
 */
export type SelfFence =
  | { readonly confirmed: true }
  | { readonly confirmed: false; readonly pendingOperations: ReadonlyArray<string> }

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
  /**
   * Stops this run's own engine work when it ends without a clean finish (a failure or a stop
   * once rules may have run): succeeds with whether the engine confirmed. Unconfirmed, the run
   * is recorded `unfenced` (with the operations it interrupted whose end it did not see) and
   * the next run fences it. Must bound itself in time.
   */
  readonly fenceSelf?: Effect.Effect<SelfFence>
  /**
   * After a stop request, how long the running rules may take to end (their engine interrupts
   * included) before the run closes without them; default: no bound.
   */
  readonly stopGrace?: Duration.Duration
  /** Ledger heartbeat period (default 5 s) and staleness limit (default 30 s). */
  readonly heartbeat?: Duration.Duration
  readonly staleAfter?: Duration.Duration
  /**
   * The event topic given on the command line (`--kafka-topic`): it wins over the batch file's
   * `escalation.topic`. With neither, events carry no topic and the reporter uses its own
   * (`SPARK_ETL_KAFKA_TOPIC`, else its default).
   */
  readonly topic?: string
  /** `--resume` (latest) or `--resume <run-id>`; default a fresh run (unless `resume: auto`). */
  readonly resume?: Resume.Request
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
  /** Where the run was when it ended (absent for a rejection). */
  readonly phase?: Event.Phase
  /** Whether any target had been cleaned or written. */
  readonly targetsTouched: boolean
  /** The run ended without seeing its engine work stop; the next run fences it. */
  readonly unfenced: boolean
  /** Rules preflight could not analyse (checked when they run), with why. */
  readonly notAnalysed?: ReadonlyArray<{ readonly ruleId: string; readonly reason: string }>
  /** Where the events the sink could not deliver are, once the run flushed (when it says). */
  readonly undelivered?: Event.Undelivered
  /** The run this one resumed, and the rules it skipped. */
  readonly resumed?: { readonly from: string; readonly skipped: ReadonlyArray<string> }
}

/** Services a run needs. */
export type Requirements = Batch.Requirements | Event.EventSink

// How many isolated rules preflight analyses at once: 50 views defined on a local server took
// 450–670 ms one at a time, 215–290 ms eight at a time, and little less with more.
const preflightConcurrency = 8

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

/**
 * Reports a run found crashed: a warning, then its batch.crashed event to `sink`, with `routing`
 * (labels, topic) when the reporter knows the batch. The one report, whoever finds the crash: the
 * run taking the batch over, or `spark-etl status`.
 */
export const reportCrashed =
  (sink: Event.EventSink["Service"], routing: Partial<Event.Event> = {}) =>
  (p: Ledger.Record): Effect.Effect<void> =>
    Effect.andThen(
      Effect.logWarning(`previous run ${p.runId} (pid ${p.pid} on ${p.host}) crashed; reporting it`),
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        sink.publish({ ...crashedEvent(p, iso(now)), ...routing })
      )
    )

/**
 * What every event of a run carries besides its own fields: the batch's labels, and the topic
 * (the command line's, else the batch file's).
 */
const routingOf = (options: Options, batch?: Batch.Batch): Partial<Event.Event> => {
  const topic = options.topic ?? batch?.escalation.topic
  const labels = batch?.escalation.labels ?? {}
  return {
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
    ...(topic !== undefined ? { topic } : {})
  }
}

/** How many events the sink could neither deliver nor spool (on stderr or in the log only). */
const lostCount = (sink: Event.EventSink["Service"]): Effect.Effect<number> =>
  sink.undelivered === undefined
    ? Effect.succeed(0)
    : Effect.map(sink.undelivered, (u) => u.onStderr + u.logOnly)

/** The outcome with what the sink says it could not deliver (after its flush). */
const withUndelivered = (outcome: Outcome): Effect.Effect<Outcome, never, Event.EventSink> =>
  Effect.flatMap(Event.EventSink, (sink) =>
    sink.undelivered === undefined
      ? Effect.succeed(outcome)
      : Effect.map(sink.undelivered, (undelivered) => ({ ...outcome, undelivered }))
  )

/** Runs a batch file to its outcome; never fails: every failure is in the outcome. */
export const run = (options: Options): Effect.Effect<Outcome, never, Requirements> =>
  Effect.suspend(() => runWithId(options, options.runId ?? crypto.randomUUID()))

/** How the run ended, before the terminal event is made of it. */
interface Ending {
  readonly status: Outcome["status"]
  readonly failure?: Failure.Failure
  readonly report?: Executor.Report
  readonly phase?: Event.Phase
}

const typeOf = (status: Outcome["status"]): Event.EventType =>
  status === "succeeded" ? "batch.succeeded" : status === "aborted" ? "batch.aborted" : "batch.failed"

const runWithId = (options: Options, runId: string): Effect.Effect<Outcome, never, Requirements> =>
  Effect.gen(function* () {
    const host = options.host ?? Os.hostname()
    const pid = options.pid ?? process.pid
    const sink = yield* Event.EventSink
    // The file's base name until the file itself names the batch.
    let batchName = options.batchFile.replace(/^.*[\\/]/, "").replace(/\.ya?ml$/, "")
    let parameters: Record<string, string> = { ...options.params }
    let routing = routingOf(options)

    const makeEvent = (type: Event.EventType, extra: Partial<Event.Event> = {}) =>
      Effect.map(Clock.currentTimeMillis, (now): Event.Event => ({
        id: crypto.randomUUID(),
        type,
        time: iso(now),
        batch: batchName,
        runId,
        host,
        pid,
        parameters,
        ...(options.logFile !== undefined ? { logFile: options.logFile } : {}),
        ...routing,
        ...extra
      }))

    // Secrets an engine quoted back leave no trace in what a run says (set once the batch is loaded).
    let scrub = (text: string): string => text
    const scrubbed = (ending: Ending): Ending => ({
      ...ending,
      ...(ending.failure !== undefined ? { failure: Failure.mapText(ending.failure, scrub) } : {}),
      ...(ending.report !== undefined
        ? {
            report: {
              ...ending.report,
              ...(ending.report.failure !== undefined
                ? { failure: Failure.mapText(ending.report.failure, scrub) }
                : {}),
              rules: ending.report.rules.map((r) =>
                r.failure !== undefined ? { ...r, failure: Failure.mapText(r.failure, scrub) } : r
              )
            }
          }
        : {})
    })

    const conclude: Conclude = (ending, touched) =>
      Effect.gen(function* () {
        const { status, failure, report, phase } = scrubbed(ending)
        const exitCode = failure === undefined ? ExitCode.Success : Failure.toExitCode(failure)
        if (failure !== undefined) {
          yield* (failure.category === "system" ? Effect.logError : Effect.logWarning)(
            `batch ${status}${phase !== undefined ? ` in ${phase}` : ""}: [${failure.code}] ${failure.message}${touched ? "" : " (targets untouched)"}`
          )
        } else yield* Effect.logInfo("batch succeeded")
        const event = yield* makeEvent(typeOf(status), {
          exitCode,
          ...(report !== undefined ? { durationMs: report.durationMs } : {}),
          ...(failure !== undefined ? { failure: Failure.toEventPayload(failure) } : {}),
          ...(failure?.ruleId !== undefined ? { ruleId: failure.ruleId } : {}),
          ...(failure !== undefined && phase !== undefined ? { phase, targetsTouched: touched } : {})
        })
        return {
          event,
          outcome: {
            runId,
            batch: batchName,
            status,
            exitCode,
            targetsTouched: touched,
            unfenced: false,
            ...(failure !== undefined ? { failure } : {}),
            ...(report !== undefined ? { report } : {}),
            ...(phase !== undefined ? { phase } : {})
          } satisfies Outcome
        }
      })

    const loaded = yield* Effect.result(
      Batch.load(options.batchFile, {
        ...(options.params !== undefined ? { params: options.params } : {}),
        ...(options.env !== undefined ? { env: options.env } : {})
      })
    )
    if (loaded._tag === "Failure") {
      // Consumers follow a batch by its name: a rejected file still says which batch it is.
      const peeked = yield* Batch.peek(options.batchFile, options.params)
      batchName = Option.getOrElse(peeked.name, () => batchName)
      parameters = peeked.parameters
      const { event, outcome } = yield* conclude({ status: "rejected", failure: loaded.failure }, false)
      yield* sink.publish(event)
      return outcome
    }
    const batch = loaded.success
    batchName = batch.name
    parameters = Parameter.toText(batch.parameters)
    routing = routingOf(options, batch)
    scrub = Parameter.scrubber(batch.parameters)
    return yield* Effect.scoped(execute(options, batch, runId, host, pid, makeEvent, conclude, scrub)).pipe(
      Effect.provideService(Parameter.Secrets, scrub)
    )
  }).pipe(
    Effect.ensuring(Effect.flatMap(Event.EventSink, (sink) => sink.flush)),
    Effect.flatMap(withUndelivered),
    Effect.annotateLogs({ runId })
  )

type MakeEvent = (type: Event.EventType, extra?: Partial<Event.Event>) => Effect.Effect<Event.Event>
type Conclude = (
  ending: Ending,
  targetsTouched: boolean
) => Effect.Effect<{ readonly event: Event.Event; readonly outcome: Outcome }>

/**
 * Whether this run resumes, and from which run: `--resume` asks for it, `resume: auto` makes
 * every run try. With nothing trustworthy to resume from, an explicit `--resume` is refused
 * (exit 3) with the reason, and `auto` runs fresh and says why.
 */
const chooseResume = (
  options: Options,
  batch: Batch.Batch
): Effect.Effect<Option.Option<Resume.Resuming>, Failure.ConfigRejected, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const request = options.resume ?? Resume.fresh
    const explicit = request._tag !== "Fresh"
    const forbidden = Resume.forbidden(batch)
    if (explicit && forbidden !== undefined) return yield* Resume.refusal(forbidden)
    if (!explicit && batch.resume !== "auto") return Option.none()
    const selected = yield* Resume.select(
      options.ledgerDir,
      batch,
      request._tag === "Run" ? request : { _tag: "Latest" }
    )
    if (selected._tag === "Success") return Option.some(selected.success)
    if (explicit) return yield* Resume.refusal(selected.failure)
    yield* Effect.logInfo(`resume: auto: ${selected.failure}; running fresh (delete-and-load)`)
    return Option.none()
  })

const execute = (
  options: Options,
  batch: Batch.Batch,
  runId: string,
  host: string,
  pid: number,
  makeEvent: MakeEvent,
  conclude: Conclude,
  /** Removes the batch's secret values from a text. */
  secretsOut: (text: string) => string
) =>
  Effect.gen(function* () {
    const startedAt = yield* Clock.currentTimeMillis
    const sink = yield* Event.EventSink
    const path = yield* Path.Path
    const chosen = yield* Effect.result(chooseResume(options, batch))
    if (chosen._tag === "Failure") {
      const { event, outcome } = yield* conclude({ status: "rejected", failure: chosen.failure }, false)
      yield* sink.publish(event)
      return outcome
    }
    const resuming = chosen.success
    const registry = yield* Plugin.Registry
    const prints = yield* Checkpoint.ofBatch(batch, registry)
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
          ...(Option.isSome(resuming) ? { resumedFrom: resuming.value.from.runId } : {}),
          ...(Object.keys(batch.engine.settings).length > 0 ? { engineSettings: batch.engine.settings } : {}),
          rules: Object.fromEntries(batch.plan.order.map((id) => [id, { state: "pending", attempt: 0 }]))
        },
        ...(options.heartbeat !== undefined ? { heartbeat: options.heartbeat } : {}),
        ...(options.staleAfter !== undefined ? { staleAfter: options.staleAfter } : {}),
        ...(options.fence !== undefined ? { fence: options.fence } : {}),
        report: reportCrashed(sink, routingOf(options, batch)),
        republish: (event) =>
          Effect.andThen(
            Effect.logWarning(
              `previous run ${event.runId} recorded its ${event.type} but was stopped before sending it; sending it now (event ${event.id})`
            ),
            sink.publish(event)
          )
      })
    )
    if (opened._tag === "Failure") {
      const error = opened.failure
      const ending: Ending =
        error._tag === "ConfigRejected"
          ? { status: "rejected", failure: error }
          : error._tag === "EngineUnreachable"
            ? { status: "failed", failure: error, phase: "preflight" }
            : {
                status: "failed",
                phase: "preflight",
                failure: new Failure.Defect({
                  code: "LEDGER_UNAVAILABLE",
                  message: `run ledger: ${error.message}`
                })
              }
      const { event, outcome } = yield* conclude(ending, false)
      yield* sink.publish(event)
      return outcome
    }
    const { handle, crashed, settled } = opened.success
    for (const r of settled.fenced) {
      yield* Effect.logWarning(
        `fenced run ${r.runId}, which had ended without its engine work confirmed stopped`
      )
    }

    // The stop request, watched for the whole run.
    const stop = yield* Deferred.make<Failure.Interrupted>()
    if (options.stop !== undefined) {
      yield* options.stop.pipe(
        Effect.flatMap((f) => Deferred.succeed(stop, f)),
        Effect.forkScoped({ startImmediately: true })
      )
    }
    let phase: Event.Phase = "preflight"
    let touched = false
    let notAnalysed: ReadonlyArray<{ readonly ruleId: string; readonly reason: string }> = []
    let resumed: Outcome["resumed"]
    let drainJournal: Effect.Effect<void> = Effect.void

    // The run's events leave in the order they happen, each stamped when it happens, but a rule
    // does not wait for Kafka's acknowledgement of its own: one publisher sends them behind the
    // rules (the sink never fails; an event Kafka refuses goes to its outbox). The close waits
    // for all of them, so the terminal event still comes last. After a stop the process has
    // seconds left: events are spooled as the terminal one is, and a publish still waiting for
    // Kafka is cut short (the sink spools its event).
    const events = yield* Queue.unbounded<Event.Event, Cause.Done>()
    const send = (event: Event.Event): Effect.Effect<void> =>
      Deferred.isDoneUnsafe(stop)
        ? sink.spool(event)
        : Effect.asVoid(Effect.raceFirst(sink.publish(event), Deferred.await(stop)))
    // What queued up while the last send waited for Kafka goes in one request, where the sink
    // can: the events of a rule's end and of the next rule's start come together.
    const sendAll = (group: ReadonlyArray<Event.Event>): Effect.Effect<void> =>
      group.length === 1 || sink.publishAll === undefined || Deferred.isDoneUnsafe(stop)
        ? Effect.forEach(group, send, { discard: true })
        : Effect.asVoid(Effect.raceFirst(sink.publishAll(group), Deferred.await(stop)))
    const publisher = yield* Queue.takeAll(events).pipe(
      Effect.flatMap(sendAll),
      Effect.forever,
      Effect.catchIf(Cause.isDone, () => Effect.void),
      Effect.forkScoped
    )
    const emit = (type: Event.EventType, extra?: Partial<Event.Event>): Effect.Effect<void> =>
      Effect.flatMap(makeEvent(type, extra), (event) => Effect.asVoid(Queue.offer(events, event)))
    const drainEvents = Effect.andThen(Queue.end(events), Fiber.join(publisher))

    // The outcome goes into the ledger with its terminal event before the event is published,
    // and the event is marked sent after: a kill in between leaves the event for the next run
    // to send (same id), never a second, different terminal event.
    const close = (ending: Ending): Effect.Effect<Outcome> =>
      Effect.gen(function* () {
        const mayRun = ending.status !== "succeeded" && (phase !== "preflight" || ending.status === "aborted")
        const fenced: SelfFence =
          mayRun && options.fenceSelf !== undefined ? yield* options.fenceSelf : { confirmed: true }
        const confirmed = fenced.confirmed
        if (!confirmed) {
          yield* Effect.logError(
            `run ${runId}: the engine did not confirm that this run's work stopped; recorded unfenced, the next run fences it before cleaning`
          )
        }
        yield* drainJournal
        yield* drainEvents
        const { event, outcome } = yield* conclude(ending, touched)
        const endedAt = yield* Clock.currentTimeMillis
        // Ended before execution: no rule ran; the one preflight failed on says so.
        const rulesOf = (r: Ledger.Record): Ledger.Record["rules"] =>
          ending.report !== undefined || phase === "execution"
            ? r.rules
            : Object.fromEntries(
                Object.entries(r.rules).map(([id, entry]) => [
                  id,
                  id === outcome.failure?.ruleId
                    ? { ...entry, state: "failed" as const, error: Failure.toEventPayload(outcome.failure) }
                    : { ...entry, state: "not_run" as const }
                ])
              )
        const record =
          (sent: boolean) =>
          (r: Ledger.Record): Ledger.Record => ({
            ...r,
            rules: rulesOf(r),
            status: outcome.status === "rejected" ? "failed" : outcome.status,
            endedAt: iso(endedAt),
            ...(ending.phase !== undefined ? { phase: ending.phase } : {}),
            ...(fenced.confirmed
              ? {}
              : {
                  unfenced: true,
                  ...(fenced.pendingOperations.length > 0
                    ? { pendingOperations: fenced.pendingOperations }
                    : {})
                }),
            outcome: {
              exitCode: outcome.exitCode,
              ...(outcome.failure?.ruleId !== undefined ? { ruleId: outcome.failure.ruleId } : {}),
              ...(outcome.failure !== undefined ? { failure: Failure.toEventPayload(outcome.failure) } : {})
            },
            terminalEvent: event,
            terminalEventSent: sent
          })
        const write = (sent: boolean) =>
          handle
            .update(record(sent))
            .pipe(Effect.catch((e) => Effect.logError(`could not close the run ledger: ${e.message}`)))
        yield* write(false)
        const lostBefore = yield* lostCount(sink)
        // After a stop the process has seconds left: the event is made durable first, and the
        // flush at the end delivers it if Kafka answers in time.
        yield* Deferred.isDoneUnsafe(stop) ? sink.spool(event) : sink.publish(event)
        // Neither delivered nor spooled (only on stderr or in the log): it stays unsent in the
        // ledger, and the next run of the batch or `status` sends it, same id.
        if ((yield* lostCount(sink)) === lostBefore) yield* write(true)
        else {
          yield* Effect.logError(
            `the ${event.type} event ${event.id} was neither delivered nor spooled; it stays recorded unsent, and the next run of ${batch.name} or its status command sends it`
          )
        }
        return {
          ...outcome,
          unfenced: !confirmed,
          ...(notAnalysed.length > 0 ? { notAnalysed } : {}),
          ...(resumed !== undefined ? { resumed } : {}),
          ...(Option.isSome(crashed) ? { crashedPredecessor: crashed.value } : {})
        }
      })
    const aborted = Effect.flatMap(Deferred.await(stop), (f) =>
      close({ status: "aborted", failure: f, phase })
    )

    if (Deferred.isDoneUnsafe(stop)) return yield* aborted

    // Preflight: nothing is deleted before the engine answered and every rule was analysed.
    const rules = new Map(batch.rules.map((r) => [r.id, r]))
    const batchContext = {
      name: batch.name,
      dir: batch.dir,
      parameters: batch.parameters,
      settings: batch.engine.settings
    }
    const contextOf = (id: string) => {
      const rule = rules.get(id)!
      return {
        runId,
        attempt: 1,
        batch: batchContext,
        rule: {
          id,
          kind: rule.kind,
          dependsOn: rule.dependsOn,
          ...(rule.target !== undefined ? { target: rule.target } : {})
        },
        options: rule.options
      }
    }
    const runnerOf = (id: string): Effect.Effect<Plugin.Loaded, Failure.Defect> => {
      const kind = rules.get(id)!.kind
      return Option.match(registry.get(kind), {
        onNone: () => Effect.fail(new Failure.Defect({ message: `no runner for kind ${kind}`, ruleId: id })),
        onSome: Effect.succeed
      })
    }
    const store = yield* Batch.targetStore(batch.targetStore)
    const preflightStart = yield* Clock.currentTimeMillis
    const analyse = Effect.gen(function* () {
      // What only the engine can tell about the roots, before anything is cleaned.
      if (Option.isSome(store) && store.value.verify !== undefined && batch.targets.targets.length > 0)
        yield* store.value.verify(batch.targets)
      const kinds = [...new Set(batch.plan.order.map((id) => rules.get(id)!.kind))]
      for (const kind of kinds) {
        const runner = yield* runnerOf(batch.plan.order.find((id) => rules.get(id)!.kind === kind)!)
        yield* runner.prepare({ runId, batch: batchContext })
      }
      // A resume first decides what it skips: a rule whose checkpoint is valid is restored (its
      // view read back from its output, or re-defined) instead of analysed, in plan order, so
      // the rules that run are analysed against what they will read.
      const decisions = Option.isSome(resuming)
        ? yield* Resume.plan(batch.plan, (id) => {
            const compared = Resume.compare(prints.get(id)!, resuming.value.checkpoints.get(id))
            if (compared._tag === "Invalid") return Effect.succeed(compared)
            const target = rules.get(id)!.target
            const exists = Option.isSome(store) ? store.value.exists : undefined
            const there = target !== undefined && exists !== undefined ? exists(target) : Effect.succeed(true)
            const restore = Effect.flatMap(runnerOf(id), (runner) =>
              runner.restore({
                ...contextOf(id),
                targets: batch.targets.targets,
                checkpoint: resuming.value.checkpoints.get(id)?.note
              })
            ).pipe(
              Effect.map((r) =>
                r._tag === "Restored" ? Resume.valid : Resume.invalid(`it cannot be restored: ${r.reason}`)
              ),
              Effect.catchIf(
                (f) => f.category === "capturable",
                (f) => Effect.succeed(Resume.invalid(`its output is missing or unreadable: ${f.message}`))
              )
            )
            return Effect.flatMap(there, (yes) =>
              yes
                ? restore
                : Effect.succeed(Resume.invalid(`its output ${target?.location ?? ""} is missing`))
            )
          })
        : new Map<string, Resume.Decision>()
      const unanalysed: Array<{ readonly ruleId: string; readonly reason: string }> = []
      const unchecked = new Set<string>()
      const noted = (id: string, analysis: Plugin.Analysis) => {
        if (analysis._tag === "Analysed") return Effect.void
        unchecked.add(id)
        unanalysed.push({ ruleId: id, reason: analysis.reason })
        return Effect.logInfo(`preflight: rule ${id} not analysed: ${analysis.reason}`).pipe(
          Effect.annotateLogs({ rule: id })
        )
      }
      // Isolated rules that do not depend on one another go side by side (see
      // Plugin.Runner.preflightIsolated); their outcomes are read in plan order, so the failure
      // reported is the first in that order, as when each waits for the one before.
      let wave: Array<{
        readonly id: string
        readonly analyse: Effect.Effect<Plugin.Analysis, Failure.RuleFailure>
      }> = []
      const flush = Effect.suspend(() => {
        const ids = wave
        wave = []
        return Effect.forEach(ids, ({ analyse }) => Effect.result(analyse), {
          concurrency: preflightConcurrency
        }).pipe(
          Effect.flatMap((results) =>
            Effect.forEach(
              results,
              (r, i) => (r._tag === "Failure" ? Effect.fail(r.failure) : noted(ids[i]!.id, r.success)),
              { discard: true }
            )
          )
        )
      })
      const ruleIds = batch.rules.map((r) => r.id)
      for (const id of batch.plan.order) {
        if (Deferred.isDoneUnsafe(stop)) return { unanalysed, decisions }
        if (decisions.get(id)?._tag === "Skip") continue
        const dependencies = batch.plan.dependencies.get(id) ?? []
        if (dependencies.some((d) => wave.some((w) => w.id === d))) yield* flush
        const upstream = dependencies.find((d) => unchecked.has(d))
        if (upstream !== undefined) {
          yield* noted(id, Plugin.notAnalysed(`it depends on ${upstream}, which was not analysed`))
          continue
        }
        const runner = yield* runnerOf(id)
        const ctx = { ...contextOf(id), targets: batch.targets.targets }
        if (yield* runner.preflightIsolated(ctx, ruleIds)) {
          wave.push({ id, analyse: runner.preflight(ctx) })
          continue
        }
        yield* flush
        if (Deferred.isDoneUnsafe(stop)) return { unanalysed, decisions }
        yield* noted(id, yield* runner.preflight(ctx))
      }
      yield* flush
      return { unanalysed, decisions }
    })
    // A stop must not wait on an engine that does not answer: the analysis is left to end in
    // the background, and the run closes (fencing its session) within the signal's grace.
    const analysing = yield* Effect.forkDetach(Effect.result(analyse), { startImmediately: true })
    const preflight = yield* Effect.raceFirst(
      Fiber.join(analysing),
      Effect.as(Deferred.await(stop), undefined)
    )
    if (preflight === undefined) {
      yield* Effect.forkDetach(Fiber.interrupt(analysing))
      return yield* aborted
    }
    if (preflight._tag === "Failure")
      return yield* close({ status: "failed", failure: preflight.failure, phase })
    notAnalysed = preflight.success.unanalysed
    const { decisions } = preflight.success
    const skipped = Resume.skipped(batch.plan, decisions)
    const skips = new Set(skipped)
    if (Option.isSome(resuming)) resumed = { from: resuming.value.from.runId, skipped }
    const preflightEnd = yield* Clock.currentTimeMillis
    if (Option.isSome(resuming)) {
      const torun = batch.plan.order.filter((id) => !skips.has(id))
      yield* Effect.logInfo(
        `resume of run ${resuming.value.from.runId}: skipping ${skipped.length} rule(s)${skipped.length > 0 ? ` (${skipped.join(", ")})` : ""}, running ${torun.length}${
          torun.length > 0
            ? `: ${torun
                .map((id) => {
                  const d = decisions.get(id)
                  return `${id} (${d?._tag === "Run" ? d.reason : "?"})`
                })
                .join(", ")}`
            : ""
        }`
      )
    }
    yield* Effect.logInfo(
      `preflight: ${batch.rules.length - skipped.length - notAnalysed.length} of ${batch.rules.length - skipped.length} rules analysed in ${preflightEnd - preflightStart} ms`
    )
    if (Deferred.isDoneUnsafe(stop)) return yield* aborted

    // Delete-and-load: every target is emptied before any rule runs.
    phase = "cleanup"
    // A resume cleans only what it will run: what it skips is its checkpoint's output.
    const cleaned = yield* Effect.result(
      Effect.forEach(
        batch.targets.targets.filter((t) => !skips.has(t.ruleId)),
        (target) =>
          Option.match(store, {
            // Load checked the targets with this store, so it is there; say so plainly if not.
            onNone: (): Effect.Effect<void, Failure.TargetError> =>
              Effect.fail(
                new Failure.TargetError({
                  message: `no target store "${batch.targetStore}"`,
                  ruleId: target.ruleId
                })
              ),
            onSome: (s) =>
              Effect.andThen(
                Effect.sync(() => void (touched = true)),
                s.clean(batch.targets, target)
              )
          }).pipe(
            Effect.tap(() => Effect.logInfo(`cleaned target ${target.location} (rule ${target.ruleId})`))
          )
      )
    )
    if (cleaned._tag === "Failure") return yield* close({ status: "failed", failure: cleaned.failure, phase })

    phase = "execution"
    yield* Effect.logInfo(
      `batch started: ${batch.rules.length} rules${Option.isSome(resuming) ? `, resuming run ${resuming.value.from.runId} (${skipped.length} skipped)` : ""}`
    )
    yield* emit(
      "batch.started",
      Option.isSome(resuming) ? { resumedFrom: resuming.value.from.runId, skipped: [...skipped] } : {}
    )

    // Why running rules get interrupted: the first rule failure, unless a stop came first.
    let interruptCause: string | undefined
    const stopCause = Effect.gen(function* () {
      if (!Deferred.isDoneUnsafe(stop)) return "run:interrupted"
      const { signal } = yield* Deferred.await(stop)
      return signal !== undefined ? `signal:${signal}` : "run:interrupted"
    })
    // A rule's checkpoint goes to the run's journal once its output is committed (its runner
    // succeeded: written, expectations held). A writer appends what has come in and fsyncs once
    // per group, off the rules' path: an fsync per rule would cost more than a rule. A crash
    // loses at most the last group — those rules run again on resume, never the reverse.
    const journal = Checkpoint.journalFile(path, options.ledgerDir, batch.name, runId)
    const fs = yield* FileSystem.FileSystem
    const pending = yield* Queue.unbounded<Checkpoint.Checkpoint, Cause.Done>()
    const writer = yield* Queue.takeAll(pending).pipe(
      Effect.flatMap((group) =>
        Checkpoint.append(journal, group).pipe(
          Effect.catch((e) =>
            Effect.logWarning(
              `checkpoint of ${group.map((c) => c.ruleId).join(", ")} not written (${e.message}): a resume would run ${group.length === 1 ? "it" : "them"} again`
            )
          )
        )
      ),
      Effect.forever,
      Effect.catchIf(Cause.isDone, () => Effect.void),
      Effect.provideService(FileSystem.FileSystem, fs),
      Effect.forkScoped
    )
    // The close waits for what was committed to be in the journal.
    drainJournal = Effect.andThen(Queue.end(pending), Fiber.join(writer))
    const checkpointOf = (
      id: string,
      at: string,
      committed: void | Plugin.Committed
    ): Checkpoint.Checkpoint => {
      const target = rules.get(id)!.target
      const { fingerprint, parts } = prints.get(id)!
      return {
        ruleId: id,
        fingerprint,
        parts,
        ...(target !== undefined ? { output: { store: batch.targetStore, location: target.location } } : {}),
        writtenBy: runId,
        at,
        ...(committed !== undefined && committed.checkpoint !== undefined
          ? { note: committed.checkpoint }
          : {})
      }
    }
    const record = (checkpoints: ReadonlyArray<Checkpoint.Checkpoint>) =>
      Effect.asVoid(Queue.offerAll(pending, checkpoints))
    const runRule: Executor.RunRule = (id, attempt) =>
      Effect.flatMap(runnerOf(id), (runner) => runner.run({ ...contextOf(id), attempt })).pipe(
        Effect.mapError((failure) => Failure.mapText(failure, secretsOut)),
        Effect.flatMap((committed) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => record([checkpointOf(id, iso(now), committed)]))
        )
      )
    // Before a retry, what the failed attempt may still run is stopped, then the rule's own
    // target is emptied again: the failed attempt may have written part of it.
    const beforeRetry = (id: string, attempt: number): Effect.Effect<void, Failure.RuleFailure> => {
      const target = rules.get(id)!.target
      // Best effort: a runner's bug here must not cost the retry (it is logged).
      const abandon = Effect.flatMap(runnerOf(id), (runner) =>
        runner.abandon({ ...contextOf(id), attempt })
      ).pipe(
        Effect.catchDefect((defect) =>
          Effect.logWarning(
            `rule ${id}: stopping the failed attempt's work failed: ${defect instanceof Error ? defect.message : String(defect)}`
          )
        )
      )
      if (target === undefined || Option.isNone(store)) return abandon
      return Effect.andThen(
        abandon,
        store.value
          .clean(batch.targets, target)
          .pipe(Effect.tap(() => Effect.logInfo(`cleaned target ${target.location} before the retry`)))
      )
    }
    const onTransition = (t: Executor.Transition): Effect.Effect<void> =>
      Effect.gen(function* () {
        if (t._tag === "RuleRetrying") {
          const failure = Failure.mapText(t.failure, secretsOut)
          const policy = rules.get(t.id)!.retry
          yield* Effect.logWarning(
            `rule attempt ${t.attempt - 1} failed: [${failure.code}] ${failure.message}; retrying in ${t.delayMs} ms (attempt ${t.attempt} of ${policy?.attempts ?? t.attempt})`
          ).pipe(Effect.annotateLogs({ rule: t.id }))
          yield* emit("rule.retrying", {
            ruleId: t.id,
            ruleKind: rules.get(t.id)!.kind,
            attempt: t.attempt,
            failure: Failure.toEventPayload(failure),
            retryInMs: t.delayMs
          })
          const entry = ruleEntries[t.id]
          if (entry !== undefined) yield* ledgerRule(t.id, { ...entry, attempt: t.attempt })
          return
        }
        if (t._tag === "RuleStarted") {
          const kind = rules.get(t.id)!.kind
          yield* Effect.logInfo("rule started").pipe(Effect.annotateLogs({ rule: t.id }))
          yield* emit("rule.started", { ruleId: t.id, ruleKind: kind, attempt: t.attempt })
          yield* ledgerRule(t.id, {
            ...ruleEntries[t.id],
            state: "running",
            attempt: t.attempt,
            startedAt: iso(t.at)
          })
          return
        }
        const r = t.result
        const entry: Ledger.RuleEntry = {
          state: r.state,
          attempt: r.attempt,
          ...(r.startedAt !== undefined ? { startedAt: iso(r.startedAt) } : {}),
          ...(r.endedAt !== undefined ? { endedAt: iso(r.endedAt) } : {}),
          ...(r.durationMs !== undefined ? { durationMs: r.durationMs } : {}),
          ...(r.failure !== undefined ? { error: Failure.toEventPayload(r.failure) } : {}),
          ...(ruleEntries[r.id]?.reason !== undefined ? { reason: ruleEntries[r.id]!.reason! } : {})
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
        // Not a failure of its own: one failed batch must count as one failure on a dashboard.
        if (r.state === "interrupted") {
          const causedBy = interruptCause ?? (yield* stopCause)
          yield* Effect.logWarning(`rule interrupted: the batch stopped (caused by ${causedBy})`).pipe(
            Effect.annotateLogs({ rule: r.id })
          )
          yield* emit("rule.interrupted", { ...common, causedBy })
          return
        }
        interruptCause ??= Deferred.isDoneUnsafe(stop) ? yield* stopCause : r.id
        const failure =
          r.failure ?? new Failure.Defect({ message: "the rule failed without a reason", ruleId: r.id })
        const policy = rules.get(r.id)!.retry
        const notRetried = policy !== undefined ? Retry.whyNot(policy, failure) : undefined
        const retries =
          policy === undefined || policy.attempts <= 1
            ? ""
            : notRetried !== undefined
              ? ` (not retried: ${notRetried})`
              : ` (after ${r.attempt} of ${policy.attempts} attempts)`
        yield* Effect.logWarning(`rule ${r.state}: [${failure.code}] ${failure.message}${retries}`).pipe(
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

    if (Option.isSome(resuming)) {
      const from = resuming.value.from.runId
      // Carried over first, so a resume of this run finds every output it may skip.
      yield* record(skipped.map((id) => resuming.value.checkpoints.get(id)!))
      for (const id of skipped) {
        const writtenBy = resuming.value.checkpoints.get(id)!.writtenBy
        yield* Effect.logInfo(`rule skipped: its checkpoint (output of run ${writtenBy}) is valid`).pipe(
          Effect.annotateLogs({ rule: id })
        )
        yield* emit("rule.skipped", {
          ruleId: id,
          ruleKind: rules.get(id)!.kind,
          resumedFrom: from,
          checkpointOf: writtenBy
        })
        yield* ledgerRule(id, {
          state: "skipped",
          attempt: 0,
          reason: `checkpoint of run ${writtenBy} valid`
        })
      }
      for (const [id, d] of decisions) {
        if (d._tag === "Run") yield* ledgerRule(id, { ...ruleEntries[id]!, reason: d.reason })
      }
    }

    const report = yield* Executor.execute(batch.plan, runRule, {
      parallelism: options.parallelism ?? batch.engine.parallelism,
      onTransition,
      stop,
      skip: skips,
      retry: (id) => rules.get(id)!.retry,
      beforeRetry,
      ...(options.stopGrace !== undefined ? { stopGrace: options.stopGrace } : {}),
      ...(batch.engine.ruleTimeoutSeconds !== undefined
        ? { ruleTimeout: Duration.seconds(batch.engine.ruleTimeoutSeconds) }
        : {})
    }).pipe(
      // Interrupted from outside (not through `stop`): still say so, as far as we can.
      Effect.onInterrupt(() =>
        close({
          status: "aborted",
          failure: new Failure.Interrupted({ message: "the run was interrupted by its caller" }),
          phase
        })
      )
    )
    return yield* close({
      status: report.status,
      ...(report.failure !== undefined ? { failure: report.failure } : {}),
      report,
      ...(report.status !== "succeeded" ? { phase } : {})
    })
  }).pipe(Effect.annotateLogs({ runId, batch: batch.name }))
