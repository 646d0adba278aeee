/**
 * The wire form of an event: a CloudEvents 1.0 envelope in structured JSON mode around core's
 * payload, as one Kafka record keyed by the batch name. Also the way back (for the outbox and
 * for consumers) and the JSON Schema of each event type's payload, generated from core's Schema.
 */
import { Event } from "@spark-etl/core"
import { CloudEvent as SdkEvent, Kafka as SdkKafka } from "cloudevents"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { sanitize } from "./internal/sanitize.js"
import { Topic } from "./ReporterConfig.js"
import { EnvelopeError } from "./ReporterError.js"

/** The CloudEvents `type` prefix of every spark-etl event. */
export const typePrefix = "spark-etl."

/**
 * The CloudEvents extension attribute naming the Kafka topic an event is meant for. It travels
 * with the event, so a line of the outbox is delivered to its own topic by any later run.
 */
export const topicAttribute = "kafkatopic"

/** The Kafka `content-type` header of a structured-mode CloudEvent in JSON. */
export const contentType = "application/cloudevents+json; charset=utf-8"

/** The CloudEvents `type` of a core event type, e.g. `spark-etl.batch.failed`. */
export const ceType = (type: Event.EventType): string => `${typePrefix}${type}`

/**
 * The `dataschema` of an event type: a URN naming the type and the payload schema version.
 * It is the `$id` of `schema/<type>.json` in this package.
 */
export const dataSchemaUri = (type: Event.EventType): string =>
  `urn:spark-etl:event:${type}:${Event.schemaVersion}`

/** The CloudEvents `source`: the host that ran the batch and the batch, as a URI. */
export const sourceUri = (host: string, batch: string): string =>
  `spark-etl://${encodeURIComponent(host)}/${encodeURIComponent(batch)}`

/** The CloudEvents `subject`: `batch` for batch events, `batch/rule` for rule events. */
export const subjectOf = (event: Event.Event): string =>
  event.ruleId === undefined ? event.batch : `${event.batch}/${event.ruleId}`

/** A core event type name, e.g. `batch.failed`. */
export type EventTypeName = Event.EventType

/** Every event type, in a stable order. */
export const eventTypes: ReadonlyArray<Event.EventType> = Event.EventType.literals

// Core's `topic` is routing: it goes into the envelope (`kafkatopic`), never into the data.
const { topic: _routing, ...payloadFields } = Event.Event.fields

/** The payload Schema of one event type: core's event (less its routing) with `type` fixed. */
export const payloadSchema = (type: Event.EventType) =>
  Schema.Struct({ ...payloadFields, type: Schema.Literal(type) }).annotate({
    title: `spark-etl ${type} event payload, version ${Event.schemaVersion}`,
    description: `The CloudEvents data of spark-etl events of type ${ceType(type)}.`
  })

const NonEmpty = Schema.String.check(Schema.isMinLength(1))

const envelopeSchema = (type: Event.EventType) =>
  Schema.Struct({
    specversion: Schema.Literal("1.0"),
    id: NonEmpty,
    source: NonEmpty,
    type: Schema.Literal(ceType(type)),
    subject: NonEmpty,
    time: NonEmpty,
    datacontenttype: Schema.Literal("application/json"),
    // Not a literal: an outbox line written under an older payload version must still decode.
    dataschema: NonEmpty,
    partitionkey: NonEmpty,
    // Absent on lines written before it existed: those go to the reporter's configured topic.
    [topicAttribute]: Schema.optionalKey(Topic),
    data: payloadSchema(type)
  })

/** A CloudEvents envelope of any spark-etl event type, as decoded from the wire. */
export const Envelope = Schema.Union(eventTypes.map(envelopeSchema))
export type Envelope = typeof Envelope.Type

// One decoder per CloudEvents type, so an error names the field of that type's envelope.
const decoders = new Map(
  eventTypes.map((type) => [
    ceType(type),
    Schema.decodeUnknownEffect(Schema.toCodecJson(envelopeSchema(type)))
  ])
)

/**
 * One Kafka record: key = batch name, value = the structured CloudEvent, its headers, and the
 * topic it is meant for (absent: the producer's configured topic).
 */
export interface KafkaRecord {
  readonly key: string
  readonly value: string
  readonly headers: Readonly<Record<string, string>>
  readonly topic?: string
}

/** Options of the envelope mapping. */
export interface Options {
  /** Upper bound, in UTF-8 bytes, of a failure's message and engine detail. */
  readonly maxDetailBytes: number
  /** The topic of an event that names none (the reporter's configured topic). */
  readonly topic?: string
}

const isoTime = (time: string): string | undefined => {
  const millis = Date.parse(time)
  return Number.isNaN(millis) ? undefined : new Date(millis).toISOString()
}

/**
 * Wraps an event in its CloudEvents envelope and renders the Kafka record. Secrets are hidden
 * and free text bounded before anything is serialised.
 *
 * @example
 * const record = yield* CloudEvent.fromEvent(event, { maxDetailBytes: 8192 })
 * // record.key === event.batch; JSON.parse(record.value).type === "spark-etl.batch.failed"
 */
export const fromEvent = (event: Event.Event, options: Options): Effect.Effect<KafkaRecord, EnvelopeError> =>
  Effect.gen(function* () {
    // The SDK would mint a fresh id for an empty one, and consumers deduplicate by id.
    if (event.id.trim() === "") {
      return yield* new EnvelopeError({
        message: `event of batch ${event.batch} has no id: invalid CloudEvent`
      })
    }
    const { topic: eventTopic, ...clean } = sanitize(event, options.maxDetailBytes)
    const topic = eventTopic ?? options.topic
    if (topic !== undefined && !Schema.is(Topic)(topic)) {
      return yield* new EnvelopeError({
        message: `event ${event.id}: invalid topic ${JSON.stringify(topic)}: expected a Kafka topic name ([A-Za-z0-9._-], 1-249 chars)`
      })
    }
    const data = yield* Schema.encodeEffect(Schema.toCodecJson(payloadSchema(clean.type)))(clean).pipe(
      Effect.mapError(
        (e) => new EnvelopeError({ message: `event ${event.id}: invalid payload: ${e.message}` })
      )
    )
    const message = yield* Effect.try({
      try: () =>
        SdkKafka.structured(
          new SdkEvent({
            specversion: "1.0",
            id: clean.id,
            source: sourceUri(clean.host, clean.batch),
            type: ceType(clean.type),
            subject: subjectOf(clean),
            // A malformed time must not cost the event: the envelope then carries the send time.
            time: isoTime(clean.time) ?? new Date().toISOString(),
            datacontenttype: "application/json",
            dataschema: dataSchemaUri(clean.type),
            partitionkey: clean.batch,
            ...(topic !== undefined ? { [topicAttribute]: topic } : {}),
            data
          })
        ),
      catch: (e) => new EnvelopeError({ message: `event ${event.id}: invalid CloudEvent: ${String(e)}` })
    })
    return {
      key: clean.batch,
      value: String(message.value),
      headers: { "content-type": contentType },
      ...(topic !== undefined ? { topic } : {})
    }
  })

/**
 * Reads a structured CloudEvent (a Kafka record's value, an outbox line) back into its
 * envelope; the error says which field is wrong.
 *
 * @example
 * const envelope = yield* CloudEvent.decode(record.value) // envelope.data is the core event
 */
export const decode = (value: string): Effect.Effect<Envelope, EnvelopeError> =>
  Effect.gen(function* () {
    const json = yield* Effect.try({
      try: (): unknown => JSON.parse(value),
      catch: () => new EnvelopeError({ message: "not a spark-etl CloudEvent: not JSON" })
    })
    const type = typeof json === "object" && json !== null && "type" in json ? json.type : undefined
    const decoder = decoders.get(String(type))
    if (decoder === undefined) {
      return yield* new EnvelopeError({
        message: `not a spark-etl CloudEvent: unknown type ${JSON.stringify(type)}`
      })
    }
    return yield* decoder(json).pipe(
      Effect.mapError((e) => new EnvelopeError({ message: `not a spark-etl CloudEvent: ${e.message}` }))
    )
  })

/**
 * The Kafka record of a decoded envelope, for re-sending it unchanged (key = `partitionkey`) to
 * the topic it names (`kafkatopic`; none: the producer's configured topic).
 */
export const toRecord = (envelope: Envelope, value: string): KafkaRecord => ({
  key: envelope.partitionkey,
  value,
  headers: { "content-type": contentType },
  ...(envelope.kafkatopic !== undefined ? { topic: envelope.kafkatopic } : {})
})

/**
 * The JSON Schema (draft 2020-12) of one event type's payload, generated from core's Schema;
 * `schema/<type>.json` holds exactly this.
 */
export const jsonSchema = (type: Event.EventType): Record<string, unknown> => {
  const document = Schema.toJsonSchemaDocument(payloadSchema(type))
  const definitions = Object.keys(document.definitions).length > 0 ? { $defs: document.definitions } : {}
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: dataSchemaUri(type),
    ...document.schema,
    ...definitions
  }
}
