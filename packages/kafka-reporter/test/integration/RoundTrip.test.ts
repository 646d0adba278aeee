// Smoke test: kafkajs against the real broker — create a topic, produce, consume it back.
import { Kafka, logLevel } from "kafkajs"
import { randomUUID } from "node:crypto"
import { describe, expect, inject, it } from "vitest"

describe("Kafka broker", () => {
  it("creates a topic and returns a produced record to a consumer", async () => {
    const topic = `smoke-${randomUUID()}`
    const kafka = new Kafka({
      clientId: "smoke",
      brokers: inject("kafkaBrokers").split(","),
      logLevel: logLevel.ERROR
    })
    const admin = kafka.admin()
    await admin.connect()
    const created = await admin.createTopics({
      topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
      waitForLeaders: true
    })
    await admin.disconnect()
    expect(created).toBe(true)

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    await producer.send({
      topic,
      acks: -1,
      messages: [{ key: "batch-a", value: "hello", headers: { kind: "smoke" } }]
    })
    await producer.disconnect()

    const consumer = kafka.consumer({ groupId: `smoke-${randomUUID()}` })
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    const received = await new Promise<{ key: string; value: string; kind: string }>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) =>
          resolve({
            key: message.key?.toString() ?? "",
            value: message.value?.toString() ?? "",
            kind: message.headers?.["kind"]?.toString() ?? ""
          })
      })
    })
    await consumer.disconnect()
    expect(received).toEqual({ key: "batch-a", value: "hello", kind: "smoke" })
  })
})
