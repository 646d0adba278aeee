// The sink's promises that need no broker: a refused port (nothing listens on 127.0.0.1:1) is a
// real "broker down"; publish never fails, spools, skips Kafka for retryAfterMs after a failure,
// and when nothing can take an event the log carries it whole.
import { NodeFileSystem } from "@effect/platform-node"
import { expect, layer } from "@effect/vitest"
import type { Event } from "@spark-etl/core"
import { until } from "@spark-etl/testing"
import { Effect, Fiber, Logger } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as CloudEvent from "../src/CloudEvent.js"
import * as KafkaReporter from "../src/KafkaReporter.js"
import * as Outbox from "../src/internal/outbox.js"
import * as ReporterConfig from "../src/ReporterConfig.js"
import { batchEvent, ruleFailed } from "./support/fixtures.js"

const deadKafka = (outboxFile: string, overrides: Record<string, unknown> = {}) =>
  ReporterConfig.decode(
    { brokers: ["127.0.0.1:1"], topic: "spark-etl.events", outboxFile, publishTimeoutMs: 2000, ...overrides },
    "test"
  )

const tempOutbox = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kr-")), "outbox.jsonl")

// An outbox path no one can create: its folder is a regular file.
const unwritableOutbox = () => {
  const blocker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kr-")), "a-file")
  fs.writeFileSync(blocker, "")
  return path.join(blocker, "outbox.jsonl")
}

// One run that publishes one event: what it could not deliver.
const publishOne = (
  config: ReporterConfig.ReporterConfig,
  event: Event.Event,
  stderr: NonNullable<KafkaReporter.Options["stderr"]>
) =>
  Effect.scoped(
    KafkaReporter.make(config, { stderr }).pipe(
      Effect.tap((sink) => sink.publish(event)),
      Effect.flatMap((sink) => sink.undelivered!)
    )
  )

// A broker that accepts connections and never answers: a send hangs until interrupted.
// `connected` waits until the producer has reached it, i.e. a publish is inside its send.
const silentKafka = Effect.gen(function* () {
  let connections = 0
  const silent = net.createServer((socket) => {
    connections++
    socket.pause()
  })
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
  const connected = until(
    Effect.sync(() => connections > 0),
    { what: "the producer to connect to the silent broker", within: "10 seconds", every: "10 millis" }
  )
  return { config, connected }
})

// A stderr stand-in: the last resort's lines.
const stderrLines = () => {
  const lines: Array<string> = []
  return {
    lines,
    stream: { write: (chunk: string) => lines.push(...chunk.split("\n").filter((l) => l !== "")) }
  }
}

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
      expect(logs.lines.some((l) => l.includes("3 event(s) stay in outbox"))).toBe(true)
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect(
    "an event that cannot be enveloped goes to stderr and the log whole, and publish still succeeds",
    () => {
      const logs = capture()
      const stderr = stderrLines()
      return Effect.gen(function* () {
        const config = yield* deadKafka(tempOutbox())
        const event = batchEvent({ id: "" })
        const undelivered = yield* publishOne(config, event, stderr.stream)
        expect(stderr.lines).toEqual([`${KafkaReporter.stderrPayloadPrefix}${JSON.stringify(event)}`])
        expect(undelivered).toMatchObject({ spooled: 0, onStderr: 1, logOnly: 0 })
        const line = logs.lines.find((l) => l.includes("cannot be enveloped"))
        expect(line).toMatch(/^Error /)
        expect(line).toContain('written to stderr as a "spark-etl-event-payload" line, not spooled')
        expect(line).toContain(JSON.stringify(event))
      }).pipe(Effect.provide(logs.layer))
    }
  )

  it.effect("when neither Kafka nor the outbox can take an event, stderr and the log carry it whole", () => {
    const logs = capture()
    const stderr = stderrLines()
    return Effect.gen(function* () {
      const config = yield* deadKafka(unwritableOutbox())
      const event = ruleFailed()
      const exitCode = yield* Effect.scoped(
        KafkaReporter.make(config, { stderr: stderr.stream }).pipe(
          Effect.flatMap((sink) => sink.publish(event)),
          Effect.as(1)
        )
      )
      expect(exitCode).toBe(1)
      expect(stderr.lines).toHaveLength(1)
      expect(stderr.lines[0]).toMatch(/^spark-etl-event \{/)
      const line = logs.lines.find((l) => l.includes(`event ${event.id}`) && l.includes("neither delivered"))
      expect(line).toMatch(/^Error /)
      expect(line).toContain(`"id":"${event.id}"`)
      expect(line).toContain("spark-etl.rule.failed")
      // No line claims the outbox has it.
      expect(logs.lines.filter((l) => l.includes(event.id) && l.includes("appended to outbox"))).toEqual([])
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect(
    "an outbox that becomes unwritable mid-run: the event goes to stderr as one line, counted",
    () => {
      const logs = capture()
      const stderr = stderrLines()
      return Effect.gen(function* () {
        const outboxFile = tempOutbox()
        const config = yield* deadKafka(outboxFile, { retryAfterMs: 60_000 })
        const first = batchEvent({ type: "batch.started" })
        const second = ruleFailed({ runId: first.runId })
        const third = batchEvent({ type: "batch.failed", runId: first.runId, exitCode: 1 })
        const counts = yield* Effect.scoped(
          Effect.gen(function* () {
            const sink = yield* KafkaReporter.make(config, { stderr: stderr.stream })
            yield* sink.publish(first)
            const afterFirst = yield* sink.undelivered!
            // The outbox file is replaced by a directory (as by a careless cleanup).
            fs.renameSync(outboxFile, `${outboxFile}.moved`)
            fs.mkdirSync(outboxFile)
            yield* sink.publish(second)
            yield* sink.spool(third)
            yield* sink.flush
            return { afterFirst, atEnd: yield* sink.undelivered! }
          })
        )
        expect(counts.afterFirst).toEqual({ spooled: 1, outbox: outboxFile, onStderr: 0, logOnly: 0 })
        expect(counts.atEnd).toMatchObject({ spooled: 0, onStderr: 2, logOnly: 0 })
        expect(stderr.lines.map((l) => l.slice(0, KafkaReporter.stderrPrefix.length))).toEqual([
          KafkaReporter.stderrPrefix,
          KafkaReporter.stderrPrefix
        ])
        // Each line is the CloudEvent itself: decodable, same id as core minted.
        const ids = yield* Effect.forEach(stderr.lines, (l) =>
          CloudEvent.decode(l.slice(KafkaReporter.stderrPrefix.length)).pipe(Effect.map((e) => e.id))
        )
        expect(ids).toEqual([second.id, third.id])
        for (const event of [second, third]) {
          const line = logs.lines.find((l) => l.includes(`event ${event.id}`) && l.startsWith("Error"))
          expect(line).toContain("written to stderr")
          expect(line).not.toContain("appended to outbox")
        }
        expect(logs.lines.some((l) => l.includes("cannot count the events in outbox"))).toBe(true)
        // Nothing claims the outbox holds what it cannot.
        expect(logs.lines.filter((l) => l.includes("stay in outbox"))).toEqual([])
        expect(logs.lines.some((l) => l.includes(`outbox ${outboxFile} cannot be read`))).toBe(true)
      }).pipe(Effect.provide(logs.layer))
    }
  )

  it.effect("when stderr refuses the line too, the log alone carries the event, and says so", () => {
    const logs = capture()
    return Effect.gen(function* () {
      const config = yield* deadKafka(unwritableOutbox())
      const event = ruleFailed()
      const broken = {
        write: () => {
          throw new Error("EPIPE: broken pipe")
        }
      }
      const undelivered = yield* publishOne(config, event, broken)
      expect(undelivered).toMatchObject({ onStderr: 0, logOnly: 1 })
      const line = logs.lines.find((l) => l.includes(`event ${event.id}`))
      expect(line).toContain("stderr refused it too (EPIPE: broken pipe): the event is only in this log line")
      expect(line).toContain(`"id":"${event.id}"`)
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("counts what waits in the outbox, for the run's summary", () =>
    Effect.gen(function* () {
      const config = yield* deadKafka(tempOutbox(), { retryAfterMs: 60_000 })
      const undelivered = yield* Effect.scoped(
        Effect.gen(function* () {
          const sink = yield* KafkaReporter.make(config, { stderr: stderrLines().stream })
          for (const event of [batchEvent(), ruleFailed(), batchEvent({ type: "batch.failed" })])
            yield* sink.publish(event)
          yield* sink.flush
          return yield* sink.undelivered!
        })
      )
      expect(undelivered).toEqual({ spooled: 3, outbox: config.outboxFile, onStderr: 0, logOnly: 0 })
    })
  )

  it.effect("an interrupted publish still lands in the outbox", () =>
    Effect.gen(function* () {
      const { config, connected } = yield* silentKafka
      const event = ruleFailed()
      const sink = yield* KafkaReporter.make(config)
      const fiber = yield* Effect.forkChild(sink.publish(event))
      yield* connected
      yield* Fiber.interrupt(fiber)
      const outbox = yield* Outbox.make(config.outboxFile)
      expect((yield* outbox.read).entries.map((e) => e.envelope.id)).toEqual([event.id])
    }).pipe(Effect.scoped)
  )

  it.effect("a publish interrupted while another holds the reporter goes to stderr, never nowhere", () => {
    const stderr = stderrLines()
    return Effect.gen(function* () {
      const { config, connected } = yield* silentKafka
      const sink = yield* KafkaReporter.make(config, { stderr: stderr.stream })
      const hanging = ruleFailed()
      const waiting = batchEvent({ type: "batch.failed", exitCode: 1 })
      const first = yield* Effect.forkChild(sink.publish(hanging))
      yield* connected
      // Started at once, it runs until it blocks on the reporter the first publish holds.
      const second = yield* Effect.forkChild(sink.publish(waiting), { startImmediately: true })
      yield* Fiber.interrupt(second)
      yield* Fiber.interrupt(first)
      const outbox = yield* Outbox.make(config.outboxFile)
      expect((yield* outbox.read).entries.map((e) => e.envelope.id)).toEqual([hanging.id])
      expect(stderr.lines).toHaveLength(1)
      expect(stderr.lines[0]).toContain(`"id":"${waiting.id}"`)
      expect(yield* sink.undelivered!).toMatchObject({ spooled: 1, onStderr: 1 })
    }).pipe(Effect.scoped)
  })
})
