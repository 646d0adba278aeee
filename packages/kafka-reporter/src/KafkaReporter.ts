/**
 * Core's `EventSink` over Kafka. `publish` sends one event within its deadline, to the topic it
 * names (else the configured one); an event Kafka does not acknowledge in time goes to the
 * durable outbox, and the log says so. Whatever is in the outbox is delivered first, in order,
 * each line to its own topic: when the layer starts (the next run), before each new event, on
 * `flush`, and by `flushOutbox` (the operator's flush command). An event the outbox cannot take
 * either is written to stderr as one `spark-etl-event ` line, logged and counted (`undelivered`).
 * Nothing here fails: a failure to escalate must never change or hide the batch's outcome.
 */
import { Event } from "@spark-etl/core"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type * as net from "node:net"
import type * as tls from "node:tls"
import * as CloudEvent from "./CloudEvent.js"
import * as Outbox from "./internal/outbox.js"
import * as Producer from "./internal/producer.js"
import * as ReporterConfig from "./ReporterConfig.js"
import { type ConfigError, type EnvelopeError, type OutboxError, ProducerError } from "./ReporterError.js"

/** The prefix of the stderr line carrying an event neither Kafka nor the outbox took (a CloudEvent). */
export const stderrPrefix = "spark-etl-event "

/** The prefix of the stderr line of an event that could not even be enveloped: core's payload. */
export const stderrPayloadPrefix = "spark-etl-event-payload "

/** One connection to a broker, as the Kafka client asks for it. */
export interface SocketRequest {
  readonly host: string
  readonly port: number
  /** Options for `tls.connect` when TLS is on (from `tls` of the configuration); else plain TCP. */
  readonly tls: tls.ConnectionOptions | undefined
  /** Call once the connection is established (the socket's connect or secureConnect). */
  readonly onConnect: () => void
}

/** Opens the connections to the brokers in place of plain TCP/TLS: a proxy, a faulty network in tests. */
export type SocketFactory = (request: SocketRequest) => net.Socket

/** Options of `make` beyond the configuration. */
export interface Options {
  /** Where the last resort writes its lines (default: the process's stderr). */
  readonly stderr?: { readonly write: (line: string) => unknown }
  /** How to reach the brokers (default: TCP, or TLS when configured). */
  readonly socketFactory?: SocketFactory
}

/** What `flushOutbox` did; `failure` is why it stopped early, if it did. */
export type FlushResult = Outbox.DrainResult<ProducerError>

// Whether an event has reached a place (Kafka, the outbox, stderr or the log), so that an
// interruption after that does not report it a second time.
interface Ticket {
  settled: boolean
}

// An event and its Kafka record, with its ticket.
interface Enveloped {
  readonly ticket: Ticket
  readonly event: Event.Event
  readonly record: CloudEvent.KafkaRecord
}

const describe = (error: ProducerError | OutboxError): string =>
  error._tag === "ProducerError"
    ? `${error.code} on ${error.operation}: ${error.message}`
    : `outbox ${error.operation}: ${error.message}`

const drainWith = (outbox: Outbox.Outbox, producer: Producer.Producer, deadline: number) =>
  outbox
    .drain<ProducerError>((records) => producer.send(records, deadline))
    .pipe(
      Effect.timeoutOrElse({
        duration: deadline,
        orElse: () =>
          Effect.fail(
            new ProducerError({
              code: "DEADLINE_EXCEEDED",
              operation: "send",
              message: `outbox not drained within ${Duration.format(Duration.millis(deadline))}`
            })
          )
      })
    )

const logDrain = (outbox: Outbox.Outbox, result: Outbox.DrainResult<ProducerError>) =>
  Effect.gen(function* () {
    if (result.delivered > 0) {
      yield* Effect.logInfo(
        `kafka-reporter: delivered ${result.delivered} event(s) from outbox ${outbox.path}`
      )
    }
    if (Option.isSome(result.failure)) {
      yield* Effect.logWarning(
        `kafka-reporter: ${result.remaining} event(s) stay in outbox ${outbox.path}: ${describe(result.failure.value)}`
      )
    }
  })

/**
 * The event sink, scoped: the Kafka producer is disconnected when the scope closes. On start it
 * drains the outbox left by earlier runs (within the flush deadline).
 *
 * @example
 * const sink = yield* KafkaReporter.make(config)
 * yield* sink.publish(event)
 */
export const make = (
  config: ReporterConfig.ReporterConfig,
  options: Options = {}
): Effect.Effect<Event.EventSink["Service"], ConfigError, Scope.Scope | FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const producer = yield* Producer.make(config, options)
    const outbox = yield* Outbox.make(config.outboxFile)
    const lock = yield* Semaphore.make(1)
    const envelopeOptions: CloudEvent.Options = { maxDetailBytes: config.maxDetailBytes, topic: config.topic }
    const stderr = options.stderr ?? process.stderr
    // After a failure, skip Kafka until then: an outage must not cost every event a full deadline.
    let kafkaDownUntil = 0
    let onStderr = 0
    let logOnly = 0

    // Last resort: one line on stderr, and the whole event in the log, counted for the summary.
    const lastResort = (ticket: Ticket, event: Event.Event, prefix: string, body: string, why: string) =>
      Effect.gen(function* () {
        ticket.settled = true
        const what = `kafka-reporter: event ${event.id} (${event.type}, batch ${event.batch}) ${why}`
        const written = yield* Effect.try({
          try: () => void stderr.write(`${prefix}${body}\n`),
          catch: (e) => (e instanceof Error ? e.message : String(e))
        }).pipe(Effect.result)
        if (written._tag === "Success") {
          onStderr++
          return yield* Effect.logError(
            `${what}; written to stderr as a "${prefix.trim()}" line, not spooled; the event follows: ${body}`
          )
        }
        logOnly++
        yield* Effect.logError(
          `${what}; stderr refused it too (${written.failure}): the event is only in this log line: ${body}`
        )
      })

    // For an event that was interrupted or hit a defect before it reached any place.
    const unsettled = (
      ticket: Ticket,
      event: Event.Event,
      record: CloudEvent.KafkaRecord | undefined,
      why: string
    ) =>
      Effect.suspend(() =>
        ticket.settled
          ? Effect.void
          : record === undefined
            ? lastResort(ticket, event, stderrPayloadPrefix, JSON.stringify(event), why)
            : lastResort(ticket, event, stderrPrefix, record.value, why)
      )

    const notEnveloped = (ticket: Ticket, event: Event.Event, error: EnvelopeError) =>
      lastResort(
        ticket,
        event,
        stderrPayloadPrefix,
        JSON.stringify(event),
        `cannot be enveloped (${error.message})`
      )

    // Into the outbox (then `appended` is logged), else the last resort saying `notSpooled`.
    const append = (
      ticket: Ticket,
      event: Event.Event,
      record: CloudEvent.KafkaRecord,
      appended: Effect.Effect<void>,
      notSpooled: (outboxFailure: string) => string
    ) =>
      outbox.append([record]).pipe(
        Effect.andThen(
          Effect.suspend(() => {
            ticket.settled = true
            return appended
          })
        ),
        Effect.catch((error) =>
          lastResort(ticket, event, stderrPrefix, record.value, notSpooled(describe(error)))
        )
      )

    // Events that did not reach Kafka, into the outbox in their order with one append; each
    // one's line in the log says why.
    const spool = (entries: ReadonlyArray<Enveloped>, reason: string) =>
      outbox.append(entries.map((e) => e.record)).pipe(
        Effect.andThen(
          Effect.forEach(
            entries,
            ({ ticket, event }) => {
              ticket.settled = true
              return Effect.logWarning(
                `kafka-reporter: event ${event.id} (${event.type}, batch ${event.batch}) not delivered to Kafka (${reason}); appended to outbox ${outbox.path}`
              )
            },
            { discard: true }
          )
        ),
        Effect.catch((error) =>
          Effect.forEach(
            entries,
            ({ ticket, event, record }) =>
              lastResort(
                ticket,
                event,
                stderrPrefix,
                record.value,
                `neither delivered to Kafka (${reason}) nor spooled (${describe(error)})`
              ),
            { discard: true }
          )
        )
      )

    const drainPending = (deadline: number) =>
      Effect.gen(function* () {
        if (yield* outbox.isEmpty) return
        const result = yield* drainWith(outbox, producer, deadline)
        yield* logDrain(outbox, result)
        if (Option.isSome(result.failure)) return yield* Effect.fail(result.failure.value)
      })

    // An outbox that cannot be read (replaced by a directory, say) must not hold new events back
    // from a Kafka that answers: they go on, its older events wait for the operator.
    let outboxBrokenLogged = false
    const outboxBroken = (error: OutboxError) =>
      Effect.suspend(() => {
        if (outboxBrokenLogged) return Effect.void
        outboxBrokenLogged = true
        return Effect.logError(
          `kafka-reporter: ${describe(error)}; events are sent to Kafka without draining outbox ${outbox.path} first`
        )
      })

    const deliver = (records: ReadonlyArray<CloudEvent.KafkaRecord>) =>
      Effect.gen(function* () {
        yield* drainPending(config.publishTimeoutMs).pipe(Effect.catchTag("OutboxError", outboxBroken))
        yield* producer.send(records, config.publishTimeoutMs)
      }).pipe(
        Effect.timeoutOrElse({
          duration: config.publishTimeoutMs,
          orElse: () =>
            Effect.fail(
              new ProducerError({
                code: "DEADLINE_EXCEEDED",
                operation: "send",
                message: `not acknowledged within ${config.publishTimeoutMs} ms`
              })
            )
        })
      )

    // One produce request: all delivered, or all spooled.
    const sendChunk = (entries: ReadonlyArray<Enveloped>) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        if (now < kafkaDownUntil) {
          return yield* spool(entries, `Kafka failed less than ${config.retryAfterMs} ms ago`)
        }
        // Interrupted mid-send (SIGINT, SIGTERM): the events still go to the outbox before the
        // fiber stops; if Kafka took them after all, consumers deduplicate by id (core minted it).
        const sent = yield* deliver(entries.map((e) => e.record)).pipe(
          Effect.onInterrupt(() => spool(entries, "publish interrupted")),
          Effect.result
        )
        if (sent._tag === "Success") {
          for (const { ticket } of entries) ticket.settled = true
          return
        }
        kafkaDownUntil = (yield* Clock.currentTimeMillis) + config.retryAfterMs
        yield* spool(entries, describe(sent.failure))
      })

    // Events that came together go in as few produce requests as the broker's limit allows
    // (chunked as the outbox's drain is); after a chunk that failed, the next ones go straight
    // to the outbox (Kafka just failed), in order.
    const publishAll = (events: ReadonlyArray<Event.Event>): Effect.Effect<void> => {
      const tickets = events.map((): Ticket => ({ settled: false }))
      const records: Array<CloudEvent.KafkaRecord | undefined> = []
      return Effect.gen(function* () {
        const entries: Array<Enveloped> = []
        for (const [i, event] of events.entries()) {
          const encoded = yield* CloudEvent.fromEvent(event, envelopeOptions).pipe(Effect.result)
          if (encoded._tag === "Failure") yield* notEnveloped(tickets[i]!, event, encoded.failure)
          else {
            records[i] = encoded.success
            entries.push({ ticket: tickets[i]!, event, record: encoded.success })
          }
        }
        yield* Effect.forEach(
          Outbox.chunks(entries, (e) => e.record),
          sendChunk,
          { discard: true }
        ).pipe(
          // Interrupted mid-send: the chunk in flight went to the outbox (sendChunk), and the
          // chunks after it follow it there, in order.
          Effect.onInterrupt(() =>
            spool(
              entries.filter((e) => !e.ticket.settled),
              "publish interrupted"
            )
          )
        )
      }).pipe(
        lock.withPermit,
        // Interrupted before they reached Kafka or the outbox (e.g. waiting for the lock).
        Effect.onInterrupt(() =>
          Effect.forEach(
            events,
            (event, i) =>
              unsettled(tickets[i]!, event, records[i], "interrupted before it was sent or spooled"),
            { discard: true }
          )
        ),
        Effect.catchCause((cause) =>
          Effect.forEach(
            events,
            (event, i) =>
              tickets[i]!.settled
                ? Effect.void
                : Effect.andThen(
                    Effect.logError(`kafka-reporter: publishing event ${event.id} failed: ${cause}`),
                    unsettled(tickets[i]!, event, records[i], "neither sent nor spooled (publishing failed)")
                  ),
            { discard: true }
          )
        )
      )
    }

    const publish = (event: Event.Event): Effect.Effect<void> => publishAll([event])

    const flushNow = (deadline: number) =>
      drainPending(deadline).pipe(
        Effect.catch((error) =>
          Clock.currentTimeMillis.pipe(
            Effect.map((now) => {
              if (error._tag === "ProducerError") kafkaDownUntil = now + config.retryAfterMs
            }),
            Effect.andThen(Effect.logWarning(`kafka-reporter: outbox not drained: ${describe(error)}`))
          )
        ),
        lock.withPermit,
        Effect.catchCause((cause) => Effect.logError(`kafka-reporter: flushing the outbox failed: ${cause}`))
      )

    // The next run delivers what earlier runs spooled before its own first event.
    yield* flushNow(config.flushTimeoutMs)

    // The lines waiting in the outbox, counted without the lock (a rewrite is an atomic rename):
    // complete lines only.
    const countSpooled = fs.readFileString(outbox.path).pipe(
      Effect.map(
        (text) => text.split("\n").filter((line, i, all) => i < all.length - 1 && line.trim() !== "").length
      ),
      Effect.catchIf(
        (e) => e.reason._tag === "NotFound",
        () => Effect.succeed(0)
      )
    )

    const flush: Effect.Effect<void> = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      now < kafkaDownUntil
        ? countSpooled.pipe(
            Effect.flatMap((n) =>
              n === 0
                ? Effect.void
                : Effect.logWarning(
                    `kafka-reporter: Kafka failed recently; ${n} event(s) stay in outbox ${outbox.path} for the next run or the flush command`
                  )
            ),
            Effect.catch((e) =>
              Effect.logWarning(
                `kafka-reporter: Kafka failed recently, and outbox ${outbox.path} cannot be read: ${e.message}`
              )
            )
          )
        : flushNow(config.flushTimeoutMs)
    )

    // Durable first: the outbox line is fsync'd before this returns; `flush` delivers it.
    const spoolOnly = (event: Event.Event): Effect.Effect<void> => {
      const ticket: Ticket = { settled: false }
      let enveloped: CloudEvent.KafkaRecord | undefined
      return CloudEvent.fromEvent(event, envelopeOptions).pipe(
        Effect.matchEffect({
          onFailure: (error) => notEnveloped(ticket, event, error),
          onSuccess: (record) => {
            enveloped = record
            return append(
              ticket,
              event,
              record,
              Effect.logInfo(
                `kafka-reporter: event ${event.id} (${event.type}) spooled to outbox ${outbox.path}`
              ),
              (failure) => `could not be spooled (${failure})`
            )
          }
        }),
        lock.withPermit,
        Effect.onInterrupt(() => unsettled(ticket, event, enveloped, "interrupted before it was spooled")),
        Effect.catchCause((cause) =>
          Effect.andThen(
            Effect.logError(`kafka-reporter: spooling event ${event.id} failed: ${cause}`),
            unsettled(ticket, event, enveloped, "not spooled (spooling failed)")
          )
        )
      )
    }

    let countFailureLogged = false
    const undelivered: Effect.Effect<Event.Undelivered> = countSpooled.pipe(
      Effect.catch((e) =>
        Effect.as(
          countFailureLogged
            ? Effect.void
            : Effect.andThen(
                Effect.sync(() => void (countFailureLogged = true)),
                Effect.logWarning(
                  `kafka-reporter: cannot count the events in outbox ${outbox.path}: ${e.message}`
                )
              ),
          0
        )
      ),
      Effect.map((spooled) => ({ spooled, outbox: outbox.path, onStderr, logOnly }))
    )

    return { publish, publishAll, spool: spoolOnly, flush, undelivered }
  })

/**
 * Core's `EventSink` as a layer over Kafka.
 *
 * @example
 * runBatch.pipe(Effect.provide(KafkaReporter.layer(config)), Effect.provide(NodeServices.layer))
 */
export const layer = (
  config: ReporterConfig.ReporterConfig,
  options: Options = {}
): Layer.Layer<Event.EventSink, ConfigError, FileSystem.FileSystem> =>
  Layer.effect(Event.EventSink, make(config, options))

/**
 * The layer from untrusted configuration input (a parsed config file named by `source`).
 *
 * @example
 * KafkaReporter.layerFromInput(yaml.reporter, "batch.yaml")
 */
export const layerFromInput = (
  input: unknown,
  source: string
): Layer.Layer<Event.EventSink, ConfigError, FileSystem.FileSystem> =>
  Layer.unwrap(ReporterConfig.decode(input, source).pipe(Effect.map(layer)))

/**
 * The flush command: delivers the outbox now, in order, within the flush deadline, and says
 * what it did. Fails only when the outbox itself cannot be read or rewritten.
 *
 * @example
 * const result = yield* KafkaReporter.flushOutbox(config) // { delivered: 3, remaining: 0, ... }
 */
export const flushOutbox = (
  config: ReporterConfig.ReporterConfig,
  options: Pick<Options, "socketFactory"> = {}
): Effect.Effect<FlushResult, ConfigError | OutboxError, FileSystem.FileSystem> =>
  Effect.scoped(
    Effect.gen(function* () {
      const producer = yield* Producer.make(config, options)
      const outbox = yield* Outbox.make(config.outboxFile)
      const result = yield* drainWith(outbox, producer, config.flushTimeoutMs).pipe(
        Effect.catchTag("ProducerError", (error) =>
          outbox.read.pipe(
            Effect.map((contents) => ({
              delivered: 0,
              remaining: contents.entries.length,
              quarantined: 0,
              failure: Option.some(error)
            }))
          )
        )
      )
      yield* logDrain(outbox, result)
      return result
    })
  )
