// Figures: failure → acknowledged latency (median, p99 over 200), and the time a publish takes
// to fall back to the outbox when the broker refuses connections or drops packets.
import { NodeFileSystem } from "@effect/platform-node"
import { Event } from "@spark-etl/core"
import * as Effect from "effect/Effect"
import { expect, inject, it } from "vitest"
import * as KafkaReporter from "../src/KafkaReporter.js"
import * as Outbox from "../src/internal/outbox.js"
import { ruleFailed } from "../test/support/fixtures.js"
import * as FaultyNetwork from "../test/integration/support/FaultyNetwork.js"
import { consume, createTopic, reporterConfig, unique } from "../test/integration/support/kafka.js"

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!

const summary = (label: string, samples: ReadonlyArray<number>) => {
  const sorted = [...samples].sort((a, b) => a - b)
  const row = {
    label,
    n: sorted.length,
    medianMs: +percentile(sorted, 50).toFixed(2),
    p99Ms: +percentile(sorted, 99).toFixed(2),
    maxMs: +sorted[sorted.length - 1]!.toFixed(2)
  }
  console.log(`[bench] ${JSON.stringify(row)}`)
  return row
}

const elapsed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const t0 = performance.now()
    yield* effect
    return performance.now() - t0
  })

// Publishes `n` events one at a time in one reporter (one run), timing each publish.
const timePublishes = (
  config: Parameters<typeof KafkaReporter.make>[0],
  n: number,
  options: KafkaReporter.Options = {},
  before: (i: number) => void = () => {}
) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const sink = yield* KafkaReporter.make(config, options)
        const samples: Array<number> = []
        for (let i = 0; i < n; i++) {
          before(i)
          // The failure happens now; the clock stops when the broker acknowledged (or it spooled).
          samples.push(yield* elapsed(sink.publish(ruleFailed({ batch: "bench_batch" }))))
        }
        return samples
      })
    ).pipe(Effect.provide(NodeFileSystem.layer))
  )

const spooled = (config: { readonly outboxFile: string }) =>
  Effect.runPromise(
    Outbox.make(config.outboxFile).pipe(
      Effect.flatMap((o) => o.read),
      Effect.map((c) => c.entries.length),
      Effect.provide(NodeFileSystem.layer)
    )
  )

it("failure → acknowledged latency, and time to fall back to the outbox", async () => {
  const brokers = inject("kafkaBrokers")
  const rows = []

  // 1. Failure → ack, broker up: 10 warm-up events, then 200 measured (default deadlines).
  const up = await Effect.runPromise(reporterConfig(brokers, unique("bench"), { retryAfterMs: 15000 }))
  await Effect.runPromise(createTopic(up).pipe(Effect.provide(NodeFileSystem.layer)))
  const all = await timePublishes(up, 210)
  rows.push(summary("first event of a run (connect + InitProducerId + ack)", all.slice(0, 1)))
  rows.push(summary("failure → ack by all in-sync replicas (warm producer)", all.slice(10)))
  expect(await spooled(up)).toBe(0)
  expect((await consume(brokers, up.topic, 210)).length).toBe(210)

  // 2. Refused (nothing listens): a fresh run, and a run whose broker dies under it.
  const network = await FaultyNetwork.make()
  try {
    const refusedFresh: Array<number> = []
    for (let i = 0; i < 20; i++) {
      const config = await Effect.runPromise(
        reporterConfig("127.0.0.1:1", unique("refused"), { retryAfterMs: 1 })
      )
      refusedFresh.push(...(await timePublishes(config, 1)))
      expect(await spooled(config)).toBe(1)
    }
    rows.push(summary("fallback, broker refuses (fresh run, default 5 s deadline)", refusedFresh))

    const refusedLive: Array<number> = []
    const dropped: Array<number> = []
    const droppedLive: Array<number> = []
    for (const [mode, samples, fresh] of [
      ["refused", refusedLive, false],
      ["dropped", dropped, true],
      ["dropped", droppedLive, false]
    ] as const) {
      for (let i = 0; i < 5; i++) {
        const config = await Effect.runPromise(reporterConfig(brokers, unique(mode), { retryAfterMs: 1 }))
        await Effect.runPromise(createTopic(config).pipe(Effect.provide(NodeFileSystem.layer)))
        // Event 0 connects while the network is up (skipped when measuring a fresh run).
        const times = await timePublishes(config, 2, { socketFactory: network.socketFactory }, (j) =>
          network.setMode(j === 0 && !fresh ? "up" : (mode as FaultyNetwork.Mode))
        )
        samples.push(fresh ? times[0]! : times[1]!)
        network.setMode("up")
        expect(await spooled(config)).toBe(fresh ? 2 : 1)
      }
    }
    rows.push(summary("fallback, broker refuses (connection lost mid-run)", refusedLive))
    rows.push(summary("fallback, packets dropped (fresh run)", dropped))
    rows.push(summary("fallback, packets dropped (connection lost mid-run)", droppedLive))
  } finally {
    await network.close()
  }
  console.log(`[bench] node ${process.version}, ${Event.schemaVersion} payload, broker ${brokers}`)
  expect(rows.every((r) => r.n > 0)).toBe(true)
})
