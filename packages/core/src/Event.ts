/**
 * The escalation contract: what core says at each transition of a run, and the service a
 * reporter implements to deliver it. Core mints each event's id, so a reporter that retries
 * or spools it keeps the id and consumers can deduplicate.
 *
 * The wire envelope (CloudEvents) belongs to the reporter; this is the payload.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

/** Version of the payload schema; bump on any incompatible change. */
export const schemaVersion = "1.0"

export const EventType = Schema.Literals([
  "batch.started",
  "batch.succeeded",
  "batch.failed",
  "batch.aborted",
  "batch.crashed",
  "rule.started",
  "rule.succeeded",
  "rule.failed",
  "rule.interrupted",
  "rule.skipped",
  "rule.retrying"
])
export type EventType = typeof EventType.Type

/**
 * Where in a run a batch failed: `preflight` (before any target was touched: the engine session,
 * the analysis of every rule), `cleanup` (emptying the targets) or `execution` (running rules).
 */
export const Phase = Schema.Literals(["preflight", "cleanup", "execution"])
export type Phase = typeof Phase.Type

export const FailureCategory = Schema.Literals(["capturable", "system", "rejected", "interrupted"])
export type FailureCategory = typeof FailureCategory.Type

/** A failure as L2 and the dashboards see it. */
export const FailurePayload = Schema.Struct({
  category: FailureCategory,
  /** Stable code: Spark's errorClass where there is one, else ours (e.g. EXPECTATION_FAILED). */
  code: Schema.String,
  sqlState: Schema.optionalKey(Schema.String),
  message: Schema.String,
  /** The engine's own detail, bounded in size by the producer. */
  engineDetail: Schema.optionalKey(Schema.String),
  /** Whether a rerun without a code or config change may succeed. */
  restartMayHelp: Schema.Boolean
})
export type FailurePayload = typeof FailurePayload.Type

export const Event = Schema.Struct({
  /** Unique per event (UUID); the CloudEvents id. */
  id: Schema.String,
  type: EventType,
  /** ISO-8601 instant of the transition. */
  time: Schema.String,
  batch: Schema.String,
  runId: Schema.String,
  host: Schema.String,
  pid: Schema.Int,
  /** Batch parameters as given (secrets are never parameters; see the batch file reference). */
  parameters: Schema.Record(Schema.String, Schema.String),
  ruleId: Schema.optionalKey(Schema.String),
  ruleKind: Schema.optionalKey(Schema.String),
  attempt: Schema.optionalKey(Schema.Int),
  failure: Schema.optionalKey(FailurePayload),
  /** The run's JSON log file, so an operator knows where to look. */
  logFile: Schema.optionalKey(Schema.String),
  /** On batch.failed and batch.aborted: the phase the run was in. */
  phase: Schema.optionalKey(Phase),
  /** On batch.failed and batch.aborted: whether any target had been cleaned or written. */
  targetsTouched: Schema.optionalKey(Schema.Boolean),
  /** On batch terminal events: the process exit code. */
  exitCode: Schema.optionalKey(Schema.Int),
  /** Rule or batch duration so far, in milliseconds. */
  durationMs: Schema.optionalKey(Schema.Int),
  /** The batch file's `escalation.labels`, on every event of the batch (absent when none). */
  labels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  /**
   * On rule.interrupted: why the rule was stopped: the id of the rule whose failure ended the
   * batch, `signal:SIGINT` / `signal:SIGTERM`, or `run:interrupted` (stopped by its caller).
   * A rule id never contains `:`.
   */
  causedBy: Schema.optionalKey(Schema.String),
  /**
   * On batch.started of a resumed run and on its rule.skipped events: the run resumed from.
   * A rule.skipped event's output was committed by the run in `checkpointOf`.
   */
  resumedFrom: Schema.optionalKey(Schema.String),
  /** On batch.started of a resumed run: the rules it skips (their checkpoints are valid). */
  skipped: Schema.optionalKey(Schema.Array(Schema.String)),
  /** On rule.skipped: the run that committed the output the rule is skipped on. */
  checkpointOf: Schema.optionalKey(Schema.String),
  /**
   * On rule.retrying: the wait before the next attempt, in milliseconds (`attempt` is the
   * attempt about to run, `failure` the cause of the retry).
   */
  retryInMs: Schema.optionalKey(Schema.Int),
  /**
   * Routing, not payload: the topic the event is meant for (`--kafka-topic`, else the batch
   * file's `escalation.topic`); absent, the reporter's own. The reporter carries it in the
   * envelope, not in the data, and delivers the event there even from a later run's outbox.
   */
  topic: Schema.optionalKey(Schema.String)
})
export type Event = typeof Event.Type

/** Events a sink could not deliver, and where they are. */
export interface Undelivered {
  /** Events waiting in the outbox (this run's and any earlier run's), when asked. */
  readonly spooled: number
  /** The outbox they wait in. */
  readonly outbox?: string
  /** Events neither delivered nor spooled, written to stderr as a last resort. */
  readonly onStderr: number
  /** Events neither delivered, spooled nor written to stderr: only in the run's log. */
  readonly logOnly: number
}

/**
 * Delivers events. `publish` never fails: a reporter that cannot deliver spools the event
 * and logs it (and when it cannot spool either, writes it to stderr and counts it in
 * `undelivered`), because a failure to escalate must never change or hide the batch's outcome.
 * `spool` only makes the event durable (the outbox), for a run that has seconds left (after a
 * signal): `flush` then delivers it. `flush` waits (within the reporter's own deadline) until
 * what was published or spooled is delivered, or stays spooled.
 */
export class EventSink extends Context.Service<
  EventSink,
  {
    readonly publish: (event: Event) => Effect.Effect<void>
    /**
     * Delivers events that came in together, in their order, as `publish` would one by one: a
     * reporter that can sends them in one request. Optional: without it they go one by one.
     */
    readonly publishAll?: (events: ReadonlyArray<Event>) => Effect.Effect<void>
    readonly spool: (event: Event) => Effect.Effect<void>
    readonly flush: Effect.Effect<void>
    /**
     * Where the events not delivered are (after `flush`); absent for a sink that never holds
     * any back (the memory and log sinks).
     */
    readonly undelivered?: Effect.Effect<Undelivered>
  }
>()("@spark-etl/core/EventSink") {}

/** A sink that keeps events in memory, for tests and dry runs. */
export const memory = (): { readonly events: Array<Event>; readonly layer: Layer.Layer<EventSink> } => {
  const events: Array<Event> = []
  return {
    events,
    layer: Layer.succeed(EventSink, {
      publish: (event) => Effect.sync(() => void events.push(event)),
      spool: (event) => Effect.sync(() => void events.push(event)),
      flush: Effect.void
    })
  }
}
