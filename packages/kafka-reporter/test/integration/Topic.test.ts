// The events topic through the admin API on the real broker: created once, described as the
// brokers see it, and judged as the reporter writes (acks=all).
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { describe, expect, inject, it } from "vitest"
import * as Topic from "../../src/Topic.js"
import { reporterConfig, unique } from "./support/kafka.js"

const run = <A, E>(effect: Effect.Effect<A, E, NodeServices.NodeServices>) =>
  Effect.runPromise(Effect.provide(effect, NodeServices.layer))

const settings: Topic.Settings = {
  partitions: 3,
  replicationFactor: 1,
  minInsyncReplicas: 1,
  retentionMs: 3_600_000
}

describe("Topic", () => {
  it("describes a missing topic as missing; creates it once; then describes it as created", async () => {
    const config = await Effect.runPromise(reporterConfig(inject("kafkaBrokers"), unique("events")))
    const missing = await run(Topic.describe(config))
    expect(missing).toMatchObject({ exists: false, partitions: 0 })
    expect(missing.problems).toEqual([
      `topic ${config.topic} does not exist (the reporter never creates one)`
    ])
    expect(await run(Topic.create(config, settings))).toBe(true)
    expect(await run(Topic.create(config, settings))).toBe(false)
    expect(await run(Topic.describe(config))).toEqual({
      topic: config.topic,
      exists: true,
      partitions: 3,
      replicationFactor: 1,
      minInsyncReplicas: 1,
      retentionMs: 3_600_000,
      problems: [],
      schemaVersion: "1.0"
    })
  })

  it("a topic that wants more in-sync replicas than it has: every send would fail, said", async () => {
    const config = await Effect.runPromise(reporterConfig(inject("kafkaBrokers"), unique("events")))
    await run(Topic.create(config, { ...settings, partitions: 1, minInsyncReplicas: 2 }))
    const found = await run(Topic.describe(config))
    expect(found.minInsyncReplicas).toBe(2)
    expect(found.problems).toEqual([
      "partition(s) 0 have fewer in-sync replicas than min.insync.replicas 2: every send would fail (NOT_ENOUGH_REPLICAS)"
    ])
  })

  it("brokers that cannot be reached: a ProducerError of describeTopic within the deadline", async () => {
    const config = await Effect.runPromise(
      reporterConfig("127.0.0.1:1", unique("events"), { flushTimeoutMs: 2000, requestTimeoutMs: 500 })
    )
    const error = await run(Effect.flip(Topic.describe(config)))
    expect(error).toMatchObject({ _tag: "ProducerError", operation: "describeTopic" })
    expect(error.message).not.toBe("")
  })
})
