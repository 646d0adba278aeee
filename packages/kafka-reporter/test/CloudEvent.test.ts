import { Event } from "@spark-etl/core"
import { CloudEvent as SdkEvent, Kafka as SdkKafka, type KafkaMessage } from "cloudevents"
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as CloudEvent from "../src/CloudEvent.js"
import { batchEvent, problems, ruleFailed } from "./support/fixtures.js"

const options = { maxDetailBytes: 1024 }

// The official SDK's reading of a record, through its Kafka binding.
const readBySdk = (record: CloudEvent.KafkaRecord) => {
  const message: KafkaMessage = {
    key: record.key,
    value: record.value,
    headers: { ...record.headers },
    body: record.value
  }
  const parsed = SdkKafka.toEvent(message)
  assert(parsed instanceof SdkEvent)
  return parsed
}

describe("CloudEvent.fromEvent", () => {
  it.effect("renders a structured CloudEvent keyed by the batch, with every envelope attribute", () =>
    Effect.gen(function* () {
      const event = ruleFailed({ batch: "daily sales", host: "etl-host-1" })
      const record = yield* CloudEvent.fromEvent(event, options)
      expect(record.key).toBe("daily sales")
      expect(record.headers).toEqual({ "content-type": "application/cloudevents+json; charset=utf-8" })
      const envelope = JSON.parse(record.value) as Record<string, unknown>
      expect(envelope).toMatchObject({
        specversion: "1.0",
        id: event.id,
        type: "spark-etl.rule.failed",
        source: "spark-etl://etl-host-1/daily%20sales",
        subject: "daily sales/load_orders",
        time: event.time,
        datacontenttype: "application/json",
        dataschema: `urn:spark-etl:event:rule.failed:${Event.schemaVersion}`,
        data: event
      })
      expect(problems(record.value)).toEqual([])
    })
  )

  it.effect("produces a valid event of every type, batch events with the batch as subject", () =>
    Effect.gen(function* () {
      for (const type of CloudEvent.eventTypes) {
        const event = type.startsWith("rule.")
          ? ruleFailed({ type })
          : batchEvent({ type, exitCode: 1, durationMs: 5 })
        const record = yield* CloudEvent.fromEvent(event, options)
        expect(problems(record.value), type).toEqual([])
        const envelope = JSON.parse(record.value) as { subject: string; type: string }
        expect(envelope.type).toBe(`spark-etl.${type}`)
        expect(envelope.subject).toBe(type.startsWith("rule.") ? "daily_sales/load_orders" : "daily_sales")
      }
    })
  )

  it.effect("bounds the message and the engine detail in UTF-8 bytes", () =>
    Effect.gen(function* () {
      const huge = "é".repeat(10_000)
      const base = ruleFailed()
      const event = ruleFailed({ failure: { ...base.failure!, message: huge, engineDetail: huge } })
      const record = yield* CloudEvent.fromEvent(event, options)
      const data = (JSON.parse(record.value) as { data: Event.Event }).data
      expect(Buffer.byteLength(data.failure!.message, "utf8")).toBeLessThanOrEqual(1024)
      expect(Buffer.byteLength(data.failure!.engineDetail!, "utf8")).toBeLessThanOrEqual(1024)
      expect(data.failure!.engineDetail).toMatch(/…\[truncated \d+ of 20000 bytes\]$/)
      expect(data.failure!.engineDetail).not.toContain("\uFFFD")
      expect(problems(record.value)).toEqual([])
    })
  )

  it.effect("never lets a secret out: secret-named parameters, key=value secrets, URL passwords", () =>
    Effect.gen(function* () {
      const base = ruleFailed()
      const event = ruleFailed({
        // `api_secret` as core already masked it (a declared secret): it stays `***`.
        parameters: {
          run_date: "2026-11-26",
          db_password: "hunter2",
          API_TOKEN: "tok-123",
          api_secret: "***"
        },
        failure: {
          ...base.failure!,
          message: "cannot connect to jdbc:postgresql://etl:s3cr3t@db:5432/x?password=hunter2&user=etl",
          engineDetail: 'spark.hadoop.fs.s3a.secret.key = "AKIA-SECRET" token: abc.def'
        }
      })
      const record = yield* CloudEvent.fromEvent(event, options)
      for (const secret of ["hunter2", "tok-123", "s3cr3t", "AKIA-SECRET", "abc.def"]) {
        expect(record.value).not.toContain(secret)
      }
      const data = (JSON.parse(record.value) as { data: Event.Event }).data
      // Core's mask text (`***`), so a secret reads the same in every event, log and ledger line.
      expect(data.parameters).toEqual({
        run_date: "2026-11-26",
        db_password: "***",
        API_TOKEN: "***",
        api_secret: "***"
      })
      expect(data.failure!.message).toBe(
        "cannot connect to jdbc:postgresql://etl:***@db:5432/x?password=***&user=etl"
      )
      expect(data.failure!.engineDetail).toBe("spark.hadoop.fs.s3a.secret.key = *** token: ***")
      expect(problems(record.value)).toEqual([])
    })
  )

  it.effect("keeps an event whose time is malformed, stamping the envelope with the send time", () =>
    Effect.gen(function* () {
      const record = yield* CloudEvent.fromEvent(batchEvent({ time: "yesterday" }), options)
      const envelope = JSON.parse(record.value) as { time: string; data: Event.Event }
      expect(Number.isNaN(Date.parse(envelope.time))).toBe(false)
      expect(envelope.data.time).toBe("yesterday")
    })
  )

  it.effect("refuses an event without an id, naming it", () =>
    Effect.gen(function* () {
      const error = yield* CloudEvent.fromEvent(batchEvent({ id: "" }), options).pipe(Effect.flip)
      expect(error._tag).toBe("EnvelopeError")
      expect(error.message).toMatch(/invalid CloudEvent/)
    })
  )
})

describe("CloudEvent.decode", () => {
  it.effect("reads back what fromEvent wrote", () =>
    Effect.gen(function* () {
      const event = ruleFailed()
      const record = yield* CloudEvent.fromEvent(event, options)
      const envelope = yield* CloudEvent.decode(record.value)
      expect(envelope.data).toEqual(event)
      expect(CloudEvent.toRecord(envelope, record.value)).toEqual(record)
    })
  )

  it.effect("agrees with the official SDK's Kafka binding on the way back", () =>
    Effect.gen(function* () {
      const event = ruleFailed()
      const record = yield* CloudEvent.fromEvent(event, options)
      const parsed = readBySdk(record)
      expect(parsed.id).toBe(event.id)
      expect(parsed.type).toBe("spark-etl.rule.failed")
      expect(parsed.data).toEqual(event)
      expect(parsed.validate()).toBe(true)
    })
  )

  it.effect("rejects what is not a spark-etl event, saying which field is wrong", () =>
    Effect.gen(function* () {
      const notJson = yield* CloudEvent.decode("{oops").pipe(Effect.flip)
      expect(notJson.message).toMatch(/not a spark-etl CloudEvent/)
      const record = yield* CloudEvent.fromEvent(ruleFailed(), options)
      const wrong = JSON.parse(record.value) as { data: Record<string, unknown> }
      delete wrong.data["batch"]
      const missing = yield* CloudEvent.decode(JSON.stringify(wrong)).pipe(Effect.flip)
      expect(missing.message).toMatch(/batch/)
      const otherType = yield* CloudEvent.decode(
        record.value.replace("spark-etl.rule.failed", "com.example.other")
      ).pipe(Effect.flip)
      expect(otherType.message).toMatch(/type/)
    })
  )
})

describe("CloudEvent routing and escalation fields", () => {
  it.effect("carries the event's topic in the envelope (kafkatopic), never in the data", () =>
    Effect.gen(function* () {
      const event = ruleFailed({ topic: "sales.events", labels: { team: "sales" } })
      const record = yield* CloudEvent.fromEvent(event, { ...options, topic: "spark-etl.events" })
      expect(record.topic).toBe("sales.events")
      const envelope = JSON.parse(record.value) as { kafkatopic: string; data: Record<string, unknown> }
      expect(envelope.kafkatopic).toBe("sales.events")
      expect(envelope.data).not.toHaveProperty("topic")
      expect(envelope.data["labels"]).toEqual({ team: "sales" })
      expect(problems(record.value)).toEqual([])
      // The way back (an outbox line) keeps it: a later drain sends the line there.
      const decoded = yield* CloudEvent.decode(record.value)
      expect(CloudEvent.toRecord(decoded, record.value)).toEqual(record)
      // The SDK accepts the extension attribute.
      expect(readBySdk(record).validate()).toBe(true)
    })
  )

  it.effect("an event naming no topic is stamped with the reporter's, so a later run cannot reroute it", () =>
    Effect.gen(function* () {
      const record = yield* CloudEvent.fromEvent(batchEvent(), { ...options, topic: "ops.events" })
      expect(record.topic).toBe("ops.events")
      expect((JSON.parse(record.value) as { kafkatopic: string }).kafkatopic).toBe("ops.events")
    })
  )

  it.effect("a line written before the attribute existed has no topic: the configured one applies", () =>
    Effect.gen(function* () {
      const record = yield* CloudEvent.fromEvent(batchEvent(), options)
      expect(record).not.toHaveProperty("topic")
      const old = JSON.parse(record.value) as Record<string, unknown>
      expect(old).not.toHaveProperty("kafkatopic")
      const decoded = yield* CloudEvent.decode(record.value)
      expect(CloudEvent.toRecord(decoded, record.value)).not.toHaveProperty("topic")
    })
  )

  it.effect("refuses a topic Kafka would refuse, naming it; a line naming one does not decode", () =>
    Effect.gen(function* () {
      const error = yield* CloudEvent.fromEvent(batchEvent({ topic: "sales events" }), options).pipe(
        Effect.flip
      )
      expect(error.message).toContain('invalid topic "sales events"')
      const record = yield* CloudEvent.fromEvent(batchEvent({ topic: "sales.events" }), options)
      const bad = yield* CloudEvent.decode(record.value.replace('"sales.events"', '"sales events"')).pipe(
        Effect.flip
      )
      expect(bad.message).toMatch(/kafkatopic/)
    })
  )

  it.effect("rule.interrupted carries causedBy and validates against its schema", () =>
    Effect.gen(function* () {
      const record = yield* CloudEvent.fromEvent(
        batchEvent({
          type: "rule.interrupted",
          ruleId: "slow",
          ruleKind: "sql",
          attempt: 1,
          causedBy: "bad_sql"
        }),
        options
      )
      expect(problems(record.value)).toEqual([])
      expect(JSON.parse(record.value)).toMatchObject({
        type: "spark-etl.rule.interrupted",
        subject: "daily_sales/slow",
        data: { causedBy: "bad_sql" }
      })
    })
  )
})
