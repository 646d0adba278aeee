// The reporter against the real broker: what arrives (key, headers, order, schema), what an
// independent client reads, and what happens when Kafka refuses, goes silent, or lacks the topic.
import { NodeFileSystem } from "@effect/platform-node"
import { Event } from "@spark-etl/core"
import { Effect, Fiber, Layer, Option } from "effect"
import * as fs from "node:fs"
import { describe, expect, inject, it } from "vitest"
import * as KafkaReporter from "../../src/KafkaReporter.js"
import * as Outbox from "../../src/internal/outbox.js"
import * as Topic from "../../src/Topic.js"
import { batchEvent, problems, ruleFailed } from "../support/fixtures.js"
import * as FaultyNetwork from "./support/FaultyNetwork.js"
import * as ProduceRequests from "./support/ProduceRequests.js"
import { captureLogs, consume, createTopic, kcat, reporterConfig, unique } from "./support/kafka.js"

const brokers = () => inject("kafkaBrokers")

// A batch's life as core reports it: started, rules, a failure, the terminal event.
const lifecycle = (batch: string): ReadonlyArray<Event.Event> => {
  const runId = crypto.randomUUID()
  const base = { batch, runId }
  return [
    batchEvent({ ...base, type: "batch.started" }),
    batchEvent({ ...base, type: "rule.started", ruleId: "stage_orders", ruleKind: "sql" }),
    batchEvent({ ...base, type: "rule.succeeded", ruleId: "stage_orders", ruleKind: "sql", durationMs: 812 }),
    batchEvent({ ...base, type: "rule.started", ruleId: "load_orders", ruleKind: "sql" }),
    ruleFailed({ ...base }),
    batchEvent({
      ...base,
      type: "batch.failed",
      exitCode: 1,
      durationMs: 2300,
      failure: ruleFailed().failure!
    })
  ]
}

const publishAll = (events: ReadonlyArray<Event.Event>) =>
  Effect.gen(function* () {
    const sink = yield* Event.EventSink
    for (const event of events) yield* sink.publish(event)
    yield* sink.flush
  })

// The publish itself (the batch waits for it), not the layer's start or teardown: its ms.
const timedPublish = (event: Event.Event) =>
  Effect.gen(function* () {
    const sink = yield* Event.EventSink
    const started = Date.now()
    yield* sink.publish(event)
    return Date.now() - started
  })

const run = <A, E>(
  effect: Effect.Effect<A, E, Event.EventSink>,
  layer: Layer.Layer<Event.EventSink, unknown>,
  logs: Layer.Layer<never> = Layer.empty
) => Effect.runPromise(effect.pipe(Effect.provide(layer), Effect.provide(logs), Effect.orDie))

const ids = (values: ReadonlyArray<{ readonly value: string }>) =>
  values.map((v) => (JSON.parse(v.value) as { id: string }).id)

describe("KafkaReporter on the real broker", () => {
  it("spool makes an event durable in the outbox first; flush then delivers it, same id, once", async () => {
    const config = await Effect.runPromise(reporterConfig(brokers(), unique("spool")))
    await Effect.runPromise(createTopic(config).pipe(Effect.provide(NodeFileSystem.layer)))
    const event = batchEvent({
      batch: unique("signalled"),
      runId: crypto.randomUUID(),
      type: "batch.aborted"
    })
    const outboxLines = () =>
      fs.existsSync(config.outboxFile)
        ? fs
            .readFileSync(config.outboxFile, "utf8")
            .split("\n")
            .filter((l) => l !== "")
        : []
    await run(
      Effect.gen(function* () {
        const sink = yield* Event.EventSink
        yield* sink.spool(event)
        // Durable before anything is sent: the line is on disk, nothing is on the topic yet.
        expect(outboxLines()).toHaveLength(1)
        expect(outboxLines()[0]).toContain(event.id)
        yield* sink.flush
      }),
      KafkaReporter.layer(config).pipe(Layer.provide(NodeFileSystem.layer))
    )
    const received = await consume(brokers(), config.topic, 1)
    expect(ids(received)).toEqual([event.id])
    expect(outboxLines()).toEqual([])
  })

  it("delivers a batch's events in order, keyed by batch, as valid structured CloudEvents", async () => {
    const config = await Effect.runPromise(reporterConfig(brokers(), unique("events")))
    await Effect.runPromise(createTopic(config).pipe(Effect.provide(NodeFileSystem.layer)))
    const batches = [unique("daily_sales"), unique("hourly_stock")]
    const events = [...lifecycle(batches[0]!), ...lifecycle(batches[1]!)]
    await run(publishAll(events), KafkaReporter.layer(config).pipe(Layer.provide(NodeFileSystem.layer)))

    const received = await consume(brokers(), config.topic, events.length)
    expect(received).toHaveLength(events.length)
    for (const record of received) {
      expect(record.headers).toEqual({ "content-type": "application/cloudevents+json; charset=utf-8" })
      expect(problems(record.value)).toEqual([])
      expect(record.key).toBe((JSON.parse(record.value) as { data: Event.Event }).data.batch)
    }
    for (const batch of batches) {
      const ofBatch = received.filter((r) => r.key === batch)
      // One key, one partition: the batch's events stay in publish order.
      expect(new Set(ofBatch.map((r) => r.partition)).size).toBe(1)
      expect(ids(ofBatch)).toEqual(events.filter((e) => e.batch === batch).map((e) => e.id))
    }
    expect(
      await Effect.runPromise(
        Effect.scoped(Outbox.make(config.outboxFile).pipe(Effect.flatMap((o) => o.isEmpty))).pipe(
          Effect.provide(NodeFileSystem.layer)
        )
      )
    ).toBe(true)
  })

  it("sends events that come together in one produce request, in their order; one by one, one request each", async () => {
    const config = await Effect.runPromise(reporterConfig(brokers(), unique("together")))
    await Effect.runPromise(createTopic(config).pipe(Effect.provide(NodeFileSystem.layer)))
    const requests = ProduceRequests.make()
    const events = lifecycle(unique("daily_sales"))
    const sent = await run(
      Effect.gen(function* () {
        const sink = yield* Event.EventSink
        yield* sink.publishAll!(events.slice(0, 4))
        const together = requests.count()
        for (const event of events.slice(4)) yield* sink.publish(event)
        return { together, oneByOne: requests.count() - together }
      }),
      KafkaReporter.layer(config, { socketFactory: requests.socketFactory }).pipe(
        Layer.provide(NodeFileSystem.layer)
      )
    )
    expect(sent).toEqual({ together: 1, oneByOne: 2 })
    const received = await consume(brokers(), config.topic, events.length)
    expect(ids(received)).toEqual(events.map((e) => e.id))
  })

  it("spools events that came together in their order when Kafka does not take them, each named in the log", async () => {
    const config = await Effect.runPromise(
      reporterConfig(brokers(), unique("together-missing"), { publishTimeoutMs: 1500 })
    )
    const logs = captureLogs()
    const events = lifecycle(unique("daily_sales")).slice(0, 3)
    await run(
      Effect.flatMap(Event.EventSink, (sink) => sink.publishAll!(events)),
      KafkaReporter.layer(config).pipe(Layer.provide(NodeFileSystem.layer)),
      logs.layer
    )
    const spooled = await Effect.runPromise(
      Outbox.make(config.outboxFile).pipe(
        Effect.flatMap((o) => o.read),
        Effect.provide(NodeFileSystem.layer)
      )
    )
    expect(spooled.entries.map((e) => e.envelope.id)).toEqual(events.map((e) => e.id))
    for (const event of events) {
      expect(
        logs.lines.filter((l) => l.includes(`event ${event.id}`) && l.includes("appended to outbox")),
        event.type
      ).toHaveLength(1)
    }
  })

  it("a send of events that came together, interrupted mid-send, leaves them all in the outbox in order", async () => {
    const network = await FaultyNetwork.make()
    try {
      // Each event over 512 KiB (three parameters of 200 KiB, kept whole with maxDetailBytes at
      // 256 KiB): one produce request each.
      const big = { a: "a".repeat(200 * 1024), b: "b".repeat(200 * 1024), c: "c".repeat(200 * 1024) }
      const batch = unique("daily_sales")
      const events = [1, 2, 3].map(() => batchEvent({ batch, type: "rule.started", parameters: big }))
      const config = await Effect.runPromise(
        reporterConfig(brokers(), unique("interrupted"), {
          publishTimeoutMs: 60_000,
          maxDetailBytes: 262_144
        })
      )
      // Connections are accepted and never answered: the first request waits for good.
      network.setMode("dropped")
      let connected = () => {}
      const connecting = new Promise<void>((resolve) => (connected = resolve))
      const stderr: Array<string> = []
      await run(
        Effect.gen(function* () {
          const sink = yield* Event.EventSink
          const fiber = yield* Effect.forkChild(sink.publishAll!(events))
          // The first request is on its way once the reporter opens a connection to the broker.
          yield* Effect.promise(() => connecting).pipe(Effect.timeout("30 seconds"))
          yield* Fiber.interrupt(fiber)
        }),
        KafkaReporter.layer(config, {
          socketFactory: (request) => {
            connected()
            return network.socketFactory(request)
          },
          stderr: { write: (line) => stderr.push(line) }
        }).pipe(Layer.provide(NodeFileSystem.layer))
      )
      const spooled = await Effect.runPromise(
        Outbox.make(config.outboxFile).pipe(
          Effect.flatMap((o) => o.read),
          Effect.provide(NodeFileSystem.layer)
        )
      )
      expect(spooled.entries.map((e) => e.envelope.id)).toEqual(events.map((e) => e.id))
      expect(stderr).toEqual([])
    } finally {
      await network.close()
    }
  })

  it("is readable by an independent client (kcat): same ids, keys, headers and payloads", async () => {
    const config = await Effect.runPromise(reporterConfig(brokers(), unique("kcat")))
    await Effect.runPromise(createTopic(config).pipe(Effect.provide(NodeFileSystem.layer)))
    const events = lifecycle(unique("daily_sales"))
    await run(publishAll(events), KafkaReporter.layer(config).pipe(Layer.provide(NodeFileSystem.layer)))

    const read = await kcat(brokers(), config.topic)
    expect(ids(read)).toEqual(events.map((e) => e.id))
    for (const [i, record] of read.entries()) {
      expect(record.key).toBe(events[i]!.batch)
      expect(record.headers).toEqual({ "content-type": "application/cloudevents+json; charset=utf-8" })
      expect(problems(record.value)).toEqual([])
      expect((JSON.parse(record.value) as { data: Event.Event }).data).toEqual(events[i])
    }
  })

  it("spools to the outbox within the deadline when the topic is missing, and says so; the next run delivers it first", async () => {
    const config = await Effect.runPromise(
      reporterConfig(brokers(), unique("missing"), { publishTimeoutMs: 1500 })
    )
    const logs = captureLogs()
    const [first, second, third] = lifecycle(unique("daily_sales"))
    const started = Date.now()
    await run(
      publishAll([first!, second!]),
      KafkaReporter.layer(config).pipe(Layer.provide(NodeFileSystem.layer)),
      logs.layer
    )
    // Two events, one deadline: after the first failure the second goes straight to the outbox.
    expect(Date.now() - started).toBeLessThan(1500 + 1500)
    expect(
      logs.lines.some(
        (l) =>
          l.includes(`event ${first!.id}`) &&
          l.includes("appended to outbox") &&
          l.includes(config.outboxFile)
      )
    ).toBe(true)
    const spooled = await Effect.runPromise(
      Outbox.make(config.outboxFile).pipe(
        Effect.flatMap((o) => o.read),
        Effect.provide(NodeFileSystem.layer)
      )
    )
    expect(spooled.entries.map((e) => e.envelope.id)).toEqual([first!.id, second!.id])

    await Effect.runPromise(createTopic(config).pipe(Effect.provide(NodeFileSystem.layer)))
    // The next run: the layer drains the outbox before its own first event.
    await run(publishAll([third!]), KafkaReporter.layer(config).pipe(Layer.provide(NodeFileSystem.layer)))
    const received = await consume(brokers(), config.topic, 3)
    expect(ids(received)).toEqual([first!.id, second!.id, third!.id])
    expect(fs.existsSync(config.outboxFile)).toBe(false)
  })

  it("falls back within the deadline when the broker refuses connections, and when packets are dropped", async () => {
    const network = await FaultyNetwork.make()
    try {
      for (const mode of ["refused", "dropped"] as const) {
        const config = await Effect.runPromise(
          reporterConfig(brokers(), unique(mode), { publishTimeoutMs: 2000 })
        )
        await Effect.runPromise(createTopic(config).pipe(Effect.provide(NodeFileSystem.layer)))
        network.setMode(mode)
        const [event] = lifecycle(unique("daily_sales"))
        const elapsed = await run(
          timedPublish(event!),
          KafkaReporter.layer(config, { socketFactory: network.socketFactory }).pipe(
            Layer.provide(NodeFileSystem.layer)
          )
        )
        expect(elapsed, mode).toBeLessThan(2000 + 500)
        network.setMode("up")
        const result = await Effect.runPromise(
          KafkaReporter.flushOutbox(config, { socketFactory: network.socketFactory }).pipe(
            Effect.provide(NodeFileSystem.layer)
          )
        )
        expect(result, mode).toMatchObject({ delivered: 1, remaining: 0, quarantined: 0 })
        expect(ids(await consume(brokers(), config.topic, 1)), mode).toEqual([event!.id])
      }
    } finally {
      await network.close()
    }
  })

  // Every request waits for an answer up to requestTimeoutMs (a minute here): only flushTimeoutMs
  // can end the flush early, and its code says which deadline did.
  it("flushTimeoutMs bounds a flush into a network that drops packets: DEADLINE_EXCEEDED, the event kept", async () => {
    const network = await FaultyNetwork.make()
    try {
      const config = await Effect.runPromise(
        reporterConfig(brokers(), unique("flush-deadline"), {
          publishTimeoutMs: 1500,
          flushTimeoutMs: 2000,
          requestTimeoutMs: 60_000
        })
      )
      await Effect.runPromise(createTopic(config).pipe(Effect.provide(NodeFileSystem.layer)))
      network.setMode("dropped")
      const [event] = lifecycle(unique("daily_sales"))
      await run(
        timedPublish(event!),
        KafkaReporter.layer(config, { socketFactory: network.socketFactory }).pipe(
          Layer.provide(NodeFileSystem.layer)
        )
      )
      const flush = () =>
        Effect.runPromise(
          KafkaReporter.flushOutbox(config, { socketFactory: network.socketFactory }).pipe(
            Effect.provide(NodeFileSystem.layer)
          )
        )
      const started = Date.now()
      const stuck = await flush()
      expect(Date.now() - started).toBeLessThan(30_000)
      expect(stuck).toMatchObject({ delivered: 0, remaining: 1 })
      const failure = Option.getOrUndefined(stuck.failure)
      expect(failure?.code).toBe("DEADLINE_EXCEEDED")
      expect(failure?.message).toBe("outbox not drained within 2s")
      network.setMode("up")
      expect(await flush()).toMatchObject({ delivered: 1, remaining: 0 })
      expect(ids(await consume(brokers(), config.topic, 1))).toEqual([event!.id])
    } finally {
      await network.close()
    }
  })

  it("never changes the batch's outcome: publishing to a dead Kafka still ends with the batch's exit code", async () => {
    const config = await Effect.runPromise(
      reporterConfig("127.0.0.1:1", unique("dead"), { publishTimeoutMs: 1000 })
    )
    const events = lifecycle(unique("daily_sales"))
    const exitCode = await run(
      publishAll(events).pipe(Effect.as(1)),
      KafkaReporter.layer(config).pipe(Layer.provide(NodeFileSystem.layer))
    )
    expect(exitCode).toBe(1)
    const spooled = await Effect.runPromise(
      Outbox.make(config.outboxFile).pipe(
        Effect.flatMap((o) => o.read),
        Effect.provide(NodeFileSystem.layer)
      )
    )
    expect(spooled.entries.map((e) => e.envelope.id)).toEqual(events.map((e) => e.id))
  })

  it("the flush command reports what stays when Kafka is still down", async () => {
    const config = await Effect.runPromise(
      reporterConfig("127.0.0.1:1", unique("down"), { flushTimeoutMs: 1000 })
    )
    const events = lifecycle(unique("daily_sales")).slice(0, 2)
    await run(publishAll(events), KafkaReporter.layer(config).pipe(Layer.provide(NodeFileSystem.layer)))
    const result = await Effect.runPromise(
      KafkaReporter.flushOutbox(config).pipe(Effect.provide(NodeFileSystem.layer))
    )
    expect(result.delivered).toBe(0)
    expect(result.remaining).toBe(2)
    expect(result.failure._tag).toBe("Some")
  })

  it("documents a topic-creation command with safe production settings", () => {
    return Effect.runPromise(
      reporterConfig("kafka-1:9092,kafka-2:9092", "spark-etl.events").pipe(
        Effect.map((config) =>
          expect(Topic.command(config)).toBe(
            "kafka-topics.sh --bootstrap-server kafka-1:9092,kafka-2:9092 --create --topic spark-etl.events --partitions 6 --replication-factor 3 --config min.insync.replicas=2 --config retention.ms=1209600000 --config cleanup.policy=delete"
          )
        )
      )
    )
  })
})

describe("KafkaReporter when authentication fails", () => {
  it("spools within the deadline and names the failure when the broker refuses the SASL handshake", async () => {
    const config = await Effect.runPromise(
      reporterConfig(brokers(), unique("auth"), {
        publishTimeoutMs: 3000,
        sasl: { mechanism: "scram-sha-512", username: "spark-etl", password: "not-the-password" }
      })
    )
    const logs = captureLogs()
    const [event] = lifecycle(unique("daily_sales"))
    const elapsed = await run(
      timedPublish(event!),
      KafkaReporter.layer(config).pipe(Layer.provide(NodeFileSystem.layer)),
      logs.layer
    )
    expect(elapsed).toBeLessThan(3000 + 500)
    const warning = logs.lines.find((l) => l.includes(`event ${event!.id}`))
    expect(warning).toMatch(/AUTHENTICATION_FAILED on connect: .*appended to outbox/)
    expect(warning).not.toContain("not-the-password")
    const spooled = await Effect.runPromise(
      Outbox.make(config.outboxFile).pipe(
        Effect.flatMap((o) => o.read),
        Effect.provide(NodeFileSystem.layer)
      )
    )
    expect(spooled.entries.map((e) => e.envelope.id)).toEqual([event!.id])
  })
})
