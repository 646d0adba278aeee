// A batch's escalation settings on the real broker: its events go to the batch file's topic
// (the command line's when given), each outbox line to the topic it was meant for whatever the
// next run's configuration, labels ride on every event, and a failure interrupting a sibling
// shows as one rule.failed and one rule.interrupted.
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { Event, Plugin, Run, TargetStore } from "@spark-etl/core"
import * as Testing from "@spark-etl/core/testing"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, inject, it } from "vitest"
import * as CloudEvent from "../../src/CloudEvent.js"
import * as KafkaReporter from "../../src/KafkaReporter.js"
import type * as ReporterConfig from "../../src/ReporterConfig.js"
import { batchEvent, problems } from "../support/fixtures.js"
import { consume, createTopic, kcat, reporterConfig, unique, type Received } from "./support/kafka.js"

const brokers = () => inject("kafkaBrokers")
const node = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer)

const topicOf = async (topic: string, overrides: Partial<ReporterConfig.ReporterConfigInput> = {}) => {
  const config = await Effect.runPromise(reporterConfig(brokers(), topic, overrides))
  await Effect.runPromise(createTopic(config).pipe(Effect.provide(NodeFileSystem.layer)))
  return config
}

// A batch file of scripted rules in a fresh directory.
const batchFile = (name: string, rules: string, extra: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kr-escalation-"))
  const file = path.join(dir, `${name}.yaml`)
  fs.writeFileSync(
    file,
    `batch: ${name}
targets:
  store: memory
  roots: [out]
${extra}
rules:
${rules}`
  )
  return { file, ledgerDir: path.join(dir, "ledger") }
}

const runBatch = (
  batch: { readonly file: string; readonly ledgerDir: string },
  config: ReporterConfig.ReporterConfig,
  options: Partial<Run.Options> = {}
) =>
  Effect.runPromise(
    Run.run({ batchFile: batch.file, ledgerDir: batch.ledgerDir, ...options }).pipe(
      Effect.provide(
        Layer.mergeAll(
          Plugin.layer([Plugin.load(Testing.scripted().runner)]),
          TargetStore.memory().layer,
          KafkaReporter.layer(config).pipe(Layer.provide(NodeFileSystem.layer)),
          node
        )
      )
    )
  )

const payloads = (records: ReadonlyArray<Received>) =>
  records.map((r) => (JSON.parse(r.value) as { data: Event.Event }).data)

const rules = `  - { id: extract, kind: scripted, options: { ms: 5 } }
  - { id: load, kind: scripted, depends_on: [extract], options: { ms: 5 } }`

describe("escalation settings on the real broker", () => {
  it("a batch's escalation.topic receives every event of the run, each with the batch's labels", async () => {
    const configured = await topicOf(unique("configured"))
    const own = await topicOf(unique("sales"))
    const name = unique("daily").replace(/-/g, "_")
    const batch = batchFile(
      name,
      rules,
      `escalation:\n  topic: ${own.topic}\n  labels: { team: sales, tier: gold }`
    )
    const outcome = await runBatch(batch, configured)
    expect(outcome.status).toBe("succeeded")
    expect(outcome.undelivered).toMatchObject({ spooled: 0, onStderr: 0 })
    // kcat, an independent client, reads them on the batch's topic.
    const read = await kcat(brokers(), own.topic)
    const events = payloads(read)
    expect(events.map((e) => (e.ruleId ? `${e.type} ${e.ruleId}` : e.type))).toEqual([
      "batch.started",
      "rule.started extract",
      "rule.succeeded extract",
      "rule.started load",
      "rule.succeeded load",
      "batch.succeeded"
    ])
    for (const [i, record] of read.entries()) {
      expect(problems(record.value)).toEqual([])
      expect(JSON.parse(record.value)).toMatchObject({ kafkatopic: own.topic })
      expect(events[i]!.labels).toEqual({ team: "sales", tier: "gold" })
      expect(events[i]).not.toHaveProperty("topic")
    }
    expect(await kcat(brokers(), configured.topic)).toEqual([])
  })

  it("the command line's topic (Run's `topic`) wins over the batch file's", async () => {
    const configured = await topicOf(unique("configured"))
    const own = await topicOf(unique("sales"))
    const flag = await topicOf(unique("flag"))
    const name = unique("daily").replace(/-/g, "_")
    const batch = batchFile(name, rules, `escalation:\n  topic: ${own.topic}`)
    await runBatch(batch, configured, { topic: flag.topic })
    const received = await consume(brokers(), flag.topic, 6)
    expect(payloads(received).map((e) => e.type)).toContain("batch.succeeded")
    expect(await kcat(brokers(), own.topic)).toEqual([])
    expect(await kcat(brokers(), configured.topic)).toEqual([])
  })

  it("an outbox line written for topic A goes to A from a reporter configured for B; an old line without a topic goes to B", async () => {
    const a = await topicOf(unique("topic-a"))
    const b = await topicOf(unique("topic-b"), { outboxFile: a.outboxFile })
    const forA = batchEvent({ batch: unique("for_a"), type: "batch.failed", exitCode: 1 })
    const old = batchEvent({ batch: unique("old_line"), type: "batch.succeeded", exitCode: 0 })
    // Run 1: Kafka down for a reporter configured for A; the event is spooled.
    const down = { ...a, brokers: ["127.0.0.1:1"] as const, publishTimeoutMs: 1000 }
    await Effect.runPromise(
      Effect.scoped(
        KafkaReporter.make(down).pipe(
          Effect.flatMap((sink) => Effect.andThen(sink.publish(forA), sink.flush))
        )
      ).pipe(Effect.provide(NodeFileSystem.layer))
    )
    // A line as an older version wrote it: no kafkatopic attribute.
    const oldLine = await Effect.runPromise(CloudEvent.fromEvent(old, { maxDetailBytes: 1024 }))
    fs.appendFileSync(a.outboxFile, `${oldLine.value}\n`)
    const lines = fs.readFileSync(a.outboxFile, "utf8").trim().split("\n")
    expect(lines).toHaveLength(2)
    expect(JSON.parse(lines[0]!)).toMatchObject({ id: forA.id, kafkatopic: a.topic })
    // Run 2: configured for B; starting, it drains the outbox.
    await Effect.runPromise(
      Effect.scoped(KafkaReporter.make(b).pipe(Effect.flatMap((sink) => sink.flush))).pipe(
        Effect.provide(NodeFileSystem.layer)
      )
    )
    expect(fs.existsSync(a.outboxFile)).toBe(false)
    const inA = await kcat(brokers(), a.topic)
    const inB = await kcat(brokers(), b.topic)
    expect(payloads(inA).map((e) => e.id)).toEqual([forA.id])
    expect(payloads(inB).map((e) => e.id)).toEqual([old.id])
    // Byte for byte what was spooled: consumers deduplicate by the id core minted.
    expect(inA[0]!.value).toBe(lines[0])
  })

  it("an outbox that cannot be read does not hold new events back from a Kafka that answers", async () => {
    const config = await topicOf(unique("broken-outbox"))
    // The outbox path is a directory: neither readable nor appendable.
    fs.mkdirSync(config.outboxFile)
    const events = [
      batchEvent({ type: "batch.started" }),
      batchEvent({ type: "batch.succeeded", exitCode: 0 })
    ]
    const stderr: Array<string> = []
    const undelivered = await Effect.runPromise(
      Effect.scoped(
        KafkaReporter.make(config, { stderr: { write: (l: string) => stderr.push(l) } }).pipe(
          Effect.tap((sink) => Effect.forEach(events, sink.publish)),
          Effect.flatMap((sink) => Effect.andThen(sink.flush, sink.undelivered!))
        )
      ).pipe(Effect.provide(NodeFileSystem.layer))
    )
    const received = await consume(brokers(), config.topic, 2)
    expect(payloads(received).map((e) => e.id)).toEqual(events.map((e) => e.id))
    expect(stderr).toEqual([])
    expect(undelivered).toMatchObject({ spooled: 0, onStderr: 0, logOnly: 0 })
  })

  it("a rule failure that interrupts a sibling: one rule.failed, one rule.interrupted naming the cause", async () => {
    const config = await topicOf(unique("failed"))
    const name = unique("failing").replace(/-/g, "_")
    const batch = batchFile(
      name,
      `  - { id: bad, kind: scripted, options: { ms: 50, fail: sql } }
  - { id: slow, kind: scripted, options: { ms: 20000 } }`,
      "engine: { parallelism: 2 }"
    )
    const outcome = await runBatch(batch, config)
    expect(outcome).toMatchObject({ status: "failed", exitCode: 1 })
    const read = await consume(brokers(), config.topic, (r) =>
      r.some((x) => x.value.includes('"type":"spark-etl.batch.failed"'))
    )
    for (const record of read) expect(problems(record.value)).toEqual([])
    const events = payloads(read)
    expect(events.filter((e) => e.type === "rule.failed").map((e) => e.ruleId)).toEqual(["bad"])
    expect(events.filter((e) => e.type === "rule.interrupted")).toEqual([
      expect.objectContaining({ ruleId: "slow", causedBy: "bad" })
    ])
    expect(events.filter((e) => e.type === "batch.failed")).toHaveLength(1)
  })
})
