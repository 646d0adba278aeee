// The sink's promises that need no broker: a refused port (nothing listens on 127.0.0.1:1) is a
// real "broker down"; publish never fails, spools, skips Kafka for retryAfterMs after a failure,
// and when nothing can take an event the log carries it whole.
import { NodeFileSystem } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import { Effect, Fiber, Logger } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as KafkaReporter from "../src/KafkaReporter.js"
import * as Outbox from "../src/Outbox.js"
import * as ReporterConfig from "../src/ReporterConfig.js"
import { batchEvent, ruleFailed } from "./support/fixtures.js"

const deadKafka = (outboxFile: string, overrides: Record<string, unknown> = {}) =>
  ReporterConfig.decode(
    { brokers: ["127.0.0.1:1"], topic: "spark-etl.events", outboxFile, publishTimeoutMs: 2000, ...overrides },
    "test"
  )

const tempOutbox = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kr-")), "outbox.jsonl")

const capture = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push(`${logLevel} ${Array.isArray(message) ? message.map(String).join(" ") : String(message)}`)
  })
  return { lines, layer: Logger.layer([logger]) }
}

layer(NodeFileSystem.layer, { excludeTestServices: true })("KafkaReporter without a broker", (it) => {
  it.effect("spools on refusal, then skips Kafka for retryAfterMs: later events cost only the append", () => {
    const logs = capture()
    return Effect.gen(function* () {
      const config = yield* deadKafka(tempOutbox(), { retryAfterMs: 60_000 })
      const events = [
        batchEvent(),
        batchEvent({ type: "rule.started", ruleId: "a", ruleKind: "sql" }),
        ruleFailed()
      ]
      const times = yield* Effect.scoped(
        Effect.gen(function* () {
          const sink = yield* KafkaReporter.make(config)
          const out: Array<number> = []
          for (const event of events) {
            const t0 = performance.now()
            yield* sink.publish(event)
            out.push(performance.now() - t0)
          }
          yield* sink.flush
          return out
        })
      )
      expect(times[0]).toBeLessThan(2000)
      expect(times[1]).toBeLessThan(200)
      expect(times[2]).toBeLessThan(200)
      const outbox = yield* Outbox.make(config.outboxFile)
      expect((yield* outbox.read).entries.map((e) => e.envelope.id)).toEqual(events.map((e) => e.id))
      expect(logs.lines.filter((l) => l.includes("BROKER_UNREACHABLE on connect"))).toHaveLength(1)
      expect(logs.lines.filter((l) => l.includes("Kafka failed less than 60000 ms ago"))).toHaveLength(2)
      expect(logs.lines.some((l) => l.includes("events stay in outbox"))).toBe(true)
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("logs an event that cannot be enveloped whole, and publish still succeeds", () => {
    const logs = capture()
    return Effect.gen(function* () {
      const config = yield* deadKafka(tempOutbox())
      const event = batchEvent({ id: "" })
      yield* Effect.scoped(KafkaReporter.make(config).pipe(Effect.flatMap((sink) => sink.publish(event))))
      const line = logs.lines.find((l) => l.includes("cannot be enveloped"))
      expect(line).toMatch(/^Error /)
      expect(line).toContain(JSON.stringify(event))
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("when neither Kafka nor the outbox can take an event, the log carries it whole", () => {
    const logs = capture()
    return Effect.gen(function* () {
      const blocker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kr-")), "a-file")
      fs.writeFileSync(blocker, "")
      const config = yield* deadKafka(path.join(blocker, "outbox.jsonl"))
      const event = ruleFailed()
      const exitCode = yield* Effect.scoped(
        KafkaReporter.make(config).pipe(
          Effect.flatMap((sink) => sink.publish(event)),
          Effect.as(1)
        )
      )
      expect(exitCode).toBe(1)
      const line = logs.lines.find((l) => l.includes(`event ${event.id}`) && l.includes("neither delivered"))
      expect(line).toMatch(/^Error /)
      expect(line).toContain(`"id":"${event.id}"`)
      expect(line).toContain("spark-etl.rule.failed")
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("an interrupted publish still lands in the outbox", () =>
    Effect.gen(function* () {
      // A port that accepts and never answers: the send hangs until interrupted.
      const silent = net.createServer((socket) => socket.pause())
      yield* Effect.addFinalizer(() => Effect.sync(() => silent.close()))
      const port = yield* Effect.promise(
        () =>
          new Promise<number>((resolve) =>
            silent.listen(0, "127.0.0.1", () => resolve((silent.address() as net.AddressInfo).port))
          )
      )
      const config = yield* ReporterConfig.decode(
        {
          brokers: [`127.0.0.1:${port}`],
          topic: "spark-etl.events",
          outboxFile: tempOutbox(),
          publishTimeoutMs: 30_000
        },
        "test"
      )
      const event = ruleFailed()
      const sink = yield* KafkaReporter.make(config)
      const fiber = yield* Effect.forkChild(sink.publish(event))
      yield* Effect.sleep("300 millis")
      yield* Fiber.interrupt(fiber)
      const outbox = yield* Outbox.make(config.outboxFile)
      expect((yield* outbox.read).entries.map((e) => e.envelope.id)).toEqual([event.id])
    }).pipe(Effect.scoped)
  )
})
