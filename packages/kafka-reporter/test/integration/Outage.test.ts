// Kafka going away and coming back: no event is lost, each arrives (at least once) in order.
import { NodeFileSystem, NodeServices } from "@effect/platform-node"
import { Event } from "@spark-etl/core"
import { LocalKafka } from "@spark-etl/infra"
import { Effect, Exit, Scope } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, inject, it } from "vitest"
import * as KafkaReporter from "../../src/KafkaReporter.js"
import * as Outbox from "../../src/internal/outbox.js"
import { batchEvent, problems } from "../support/fixtures.js"
import * as FaultyNetwork from "./support/FaultyNetwork.js"
import { consume, createTopic, type Received, reporterConfig, unique } from "./support/kafka.js"

const idOf = (r: Received) => (JSON.parse(r.value) as { id: string }).id

// First occurrence of each id, in log order: what a deduplicating consumer sees.
const deduplicated = (received: ReadonlyArray<Received>) => [...new Set(received.map(idOf))]

describe("Kafka outages", () => {
  it("100 alternating up/down cycles (refused, and every tenth dropped) lose no event and keep the order", async () => {
    const network = await FaultyNetwork.make()
    const config = await Effect.runPromise(
      // A short deadline keeps each cycle fast: a "down" publish, refused or dropped, takes the
      // whole deadline before it spools; an "up" one took 20-30 ms here (130-170 ms the first).
      // An "up" publish that misses it is spooled and drained by the next one, which the order
      // check below covers as well.
      reporterConfig(inject("kafkaBrokers"), unique("cycles"), {
        publishTimeoutMs: 400,
        retries: 1,
        connectionTimeoutMs: 500,
        requestTimeoutMs: 1000
      })
    )
    await Effect.runPromise(createTopic(config).pipe(Effect.provide(NodeFileSystem.layer)))
    const batch = unique("daily_sales")
    const runId = crypto.randomUUID()
    const published: Array<string> = []
    let spooledWhileDown = 0
    try {
      await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const sink = yield* KafkaReporter.make(config, { socketFactory: network.socketFactory })
            const outbox = yield* Outbox.make(config.outboxFile)
            const publish = (i: number, phase: string) => {
              const event = batchEvent({
                batch,
                runId,
                type: "rule.succeeded",
                ruleId: `${phase}-${i}`,
                ruleKind: "sql"
              })
              published.push(event.id)
              return sink.publish(event)
            }
            for (let i = 0; i < 100; i++) {
              network.setMode("up")
              yield* publish(i, "up")
              network.setMode(i % 10 === 9 ? "dropped" : "refused")
              yield* publish(i, "down")
              if (!(yield* outbox.isEmpty)) spooledWhileDown++
            }
            network.setMode("up")
            yield* sink.flush
            expect(yield* outbox.isEmpty).toBe(true)
          })
        ).pipe(Effect.provide(NodeFileSystem.layer))
      )
    } finally {
      await network.close()
    }
    // Every down phase really went to the outbox (the network cut was real).
    expect(spooledWhileDown).toBe(100)
    const expected = new Set(published)
    const received = await consume(
      inject("kafkaBrokers"),
      config.topic,
      (r) => new Set(r.map(idOf)).size >= expected.size,
      60_000
    )
    expect(deduplicated(received)).toEqual(published)
    for (const record of received) {
      expect(record.key).toBe(batch)
      expect(problems(record.value)).toEqual([])
    }
  }, 300_000)

  it("broker stopped → events land in the outbox inside the deadline; broker back → the outbox drains", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "kr-broker-"))
    const startBroker = (port?: number) =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const kafka = yield* LocalKafka.start({ dataDir, ...(port === undefined ? {} : { port }) }).pipe(
          Scope.provide(scope),
          Effect.provide(NodeServices.layer)
        )
        return { kafka, stop: Scope.close(scope, Exit.void) }
      })
    const first = await Effect.runPromise(startBroker())
    let second: typeof first | undefined
    try {
      const config = await Effect.runPromise(
        reporterConfig(first.kafka.brokers, unique("restart"), { publishTimeoutMs: 3000 })
      )
      await Effect.runPromise(createTopic(config).pipe(Effect.provide(NodeFileSystem.layer)))
      const batch = unique("daily_sales")
      const events = ["batch.started", "rule.started", "rule.failed", "batch.failed"].map((type) =>
        batchEvent({ batch, type: type as Event.EventType, ruleId: "load_orders", ruleKind: "sql" })
      )
      const timings = await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const sink = yield* KafkaReporter.make(config)
            const outbox = yield* Outbox.make(config.outboxFile)
            yield* sink.publish(events[0]!)
            expect(yield* outbox.isEmpty).toBe(true)

            yield* first.stop
            const t0 = Date.now()
            yield* sink.publish(events[1]!)
            const downMs = Date.now() - t0
            yield* sink.publish(events[2]!)
            const spooled = yield* outbox.read
            expect(spooled.entries.map((e) => e.envelope.id)).toEqual([events[1]!.id, events[2]!.id])

            second = yield* startBroker(first.kafka.port)
            yield* sink.flush
            expect(yield* outbox.isEmpty).toBe(true)
            yield* sink.publish(events[3]!)
            return { downMs }
          })
        ).pipe(Effect.provide(NodeFileSystem.layer))
      )
      expect(timings.downMs).toBeLessThan(3000 + 500)
      const received = await consume(first.kafka.brokers, config.topic, 4)
      expect(deduplicated(received)).toEqual(events.map((e) => e.id))
    } finally {
      if (second !== undefined) await Effect.runPromise(second.stop)
      await Effect.runPromise(first.stop)
    }
  }, 300_000)
})
