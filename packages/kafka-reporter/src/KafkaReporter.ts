/**
 * Core's `EventSink` over Kafka. `publish` sends one event within its deadline; an event Kafka
 * does not acknowledge in time goes to the durable outbox, and the log says so. Whatever is in
 * the outbox is delivered first, in order: when the layer starts (the next run), before each
 * new event, on `flush`, and by `flushOutbox` (the operator's flush command). Nothing here
 * fails: a failure to escalate must never change or hide the batch's outcome.
 */
import { Event } from "@spark-etl/core"
import { Clock, Duration, Effect, FileSystem, Layer, Option, Scope, Semaphore } from "effect"
import * as CloudEvent from "./CloudEvent.js"
import * as Outbox from "./Outbox.js"
import * as Producer from "./Producer.js"
import * as ReporterConfig from "./ReporterConfig.js"
import { type ConfigError, type OutboxError, ProducerError } from "./ReporterError.js"

const describe = (error: ProducerError | OutboxError): string =>
  error._tag === "ProducerError"
    ? `${error.code} on ${error.operation}: ${error.message}`
    : `outbox ${error.operation}: ${error.message}`

const drainWith = (outbox: Outbox.Outbox, producer: Producer.Producer["Service"], deadline: number) =>
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
  options: Producer.Options = {}
): Effect.Effect<Event.EventSink["Service"], ConfigError, Scope.Scope | FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const producer = yield* Producer.make(config, options)
    const outbox = yield* Outbox.make(config.outboxFile)
    const lock = yield* Semaphore.make(1)
    const envelopeOptions: CloudEvent.Options = { maxDetailBytes: config.maxDetailBytes }
    // After a failure, skip Kafka until then: an outage must not cost every event a full deadline.
    let kafkaDownUntil = 0

    const spool = (record: CloudEvent.KafkaRecord, event: Event.Event, reason: string) =>
      outbox.append([record]).pipe(
        Effect.andThen(
          Effect.logWarning(
            `kafka-reporter: event ${event.id} (${event.type}, batch ${event.batch}) not delivered to Kafka (${reason}); appended to outbox ${outbox.path}`
          )
        ),
        Effect.catch((error) =>
          // Last resort: the log itself carries the event, so an operator can still replay it.
          Effect.logError(
            `kafka-reporter: event ${event.id} (${event.type}, batch ${event.batch}) neither delivered (${reason}) nor spooled (${describe(error)}); the event follows: ${record.value}`
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

    const deliver = (record: CloudEvent.KafkaRecord) =>
      Effect.gen(function* () {
        yield* drainPending(config.publishTimeoutMs)
        yield* producer.send([record], config.publishTimeoutMs)
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

    const publish = (event: Event.Event): Effect.Effect<void> =>
      Effect.gen(function* () {
        const encoded = yield* CloudEvent.fromEvent(event, envelopeOptions).pipe(Effect.result)
        if (encoded._tag === "Failure") {
          return yield* Effect.logError(
            `kafka-reporter: event ${event.id} cannot be enveloped (${encoded.failure.message}); the event follows: ${JSON.stringify(event)}`
          )
        }
        const record = encoded.success
        const now = yield* Clock.currentTimeMillis
        if (now < kafkaDownUntil) {
          return yield* spool(record, event, `Kafka failed less than ${config.retryAfterMs} ms ago`)
        }
        // Interrupted mid-send (SIGINT, SIGTERM): the event still goes to the outbox before the
        // fiber stops; if Kafka took it after all, consumers deduplicate by id.
        const sent = yield* deliver(record).pipe(
          Effect.onInterrupt(() => spool(record, event, "publish interrupted")),
          Effect.result
        )
        if (sent._tag === "Failure") {
          kafkaDownUntil = (yield* Clock.currentTimeMillis) + config.retryAfterMs
          yield* spool(record, event, describe(sent.failure))
        }
      }).pipe(
        lock.withPermit,
        Effect.catchCause((cause) =>
          Effect.logError(`kafka-reporter: publishing event ${event.id} failed: ${cause}`)
        )
      )

    const flushNow = (deadline: number) =>
      drainPending(deadline).pipe(
        Effect.catch((error) =>
          Clock.currentTimeMillis.pipe(
            Effect.map((now) => {
              kafkaDownUntil = now + config.retryAfterMs
            }),
            Effect.andThen(Effect.logWarning(`kafka-reporter: outbox not drained: ${describe(error)}`))
          )
        ),
        lock.withPermit,
        Effect.catchCause((cause) => Effect.logError(`kafka-reporter: flushing the outbox failed: ${cause}`))
      )

    // The next run delivers what earlier runs spooled before its own first event.
    yield* flushNow(config.flushTimeoutMs)

    const flush: Effect.Effect<void> = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      now < kafkaDownUntil
        ? outbox.isEmpty.pipe(
            Effect.flatMap((empty) =>
              empty
                ? Effect.void
                : Effect.logWarning(
                    `kafka-reporter: Kafka failed recently; events stay in outbox ${outbox.path} for the next run or the flush command`
                  )
            ),
            Effect.ignore
          )
        : flushNow(config.flushTimeoutMs)
    )

    // Durable first: the outbox line is fsync'd before this returns; `flush` delivers it.
    const spoolOnly = (event: Event.Event): Effect.Effect<void> =>
      CloudEvent.fromEvent(event, envelopeOptions).pipe(
        Effect.flatMap((record) =>
          outbox.append([record]).pipe(
            Effect.andThen(
              Effect.logInfo(
                `kafka-reporter: event ${event.id} (${event.type}) spooled to outbox ${outbox.path}`
              )
            ),
            Effect.catch((error) =>
              Effect.logError(
                `kafka-reporter: event ${event.id} (${event.type}, batch ${event.batch}) could not be spooled (${describe(error)}); the event follows: ${record.value}`
              )
            )
          )
        ),
        Effect.catch((error) =>
          Effect.logError(
            `kafka-reporter: event ${event.id} cannot be enveloped (${error.message}); the event follows: ${JSON.stringify(event)}`
          )
        ),
        lock.withPermit,
        Effect.catchCause((cause) =>
          Effect.logError(`kafka-reporter: spooling event ${event.id} failed: ${cause}`)
        )
      )

    return { publish, spool: spoolOnly, flush }
  })

/**
 * Core's `EventSink` as a layer over Kafka.
 *
 * @example
 * runBatch.pipe(Effect.provide(KafkaReporter.layer(config)), Effect.provide(NodeServices.layer))
 */
export const layer = (
  config: ReporterConfig.ReporterConfig,
  options: Producer.Options = {}
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
  options: Producer.Options = {}
): Effect.Effect<Outbox.DrainResult<ProducerError>, ConfigError | OutboxError, FileSystem.FileSystem> =>
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
