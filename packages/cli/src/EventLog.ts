/**
 * The event sink when no Kafka is configured (development, the sample job): every event is
 * written to the run's log as a structured line, so nothing is silently dropped, and the
 * operator is told at start that escalation is off.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Event } from "@spark-etl/core"

export const layer: Layer.Layer<Event.EventSink> = Layer.effect(
  Event.EventSink,
  Effect.as(
    Effect.logWarning(
      "escalation to Kafka is off (no --kafka-brokers / KAFKA_BROKERS): events go to the log only"
    ),
    Event.EventSink.of({
      publish: (event) => Effect.logDebug(`event ${event.type}`).pipe(Effect.annotateLogs({ event })),
      spool: (event) => Effect.logDebug(`event ${event.type}`).pipe(Effect.annotateLogs({ event })),
      flush: Effect.void
    })
  )
)
