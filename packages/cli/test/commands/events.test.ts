// `events check | create-topic` before reaching for Kafka: without brokers, or with a setting
// that cannot be right, each says what to give (exit 64). The rest runs against the real
// broker in e2e/Infrastructure.test.ts.
import { Option } from "effect"
import { describe, expect, it } from "vitest"
import * as Events from "../../src/commands/events.js"
import { handle } from "./support.js"

const settings = {
  stateDir: Option.none<string>(),
  kafkaBrokers: Option.none<string>(),
  kafkaTopic: Option.none<string>(),
  siteConfig: Option.none<string>()
}
const topicSettings = {
  ...settings,
  partitions: 6,
  replicationFactor: 3,
  minInsyncReplicas: 2,
  retentionDays: 14
}

describe("events", () => {
  it("without --kafka-brokers or KAFKA_BROKERS: exit 64, saying what to give", async () => {
    const needs = [
      "events needs Kafka: give --kafka-brokers, set KAFKA_BROKERS or kafka.brokers in the site config"
    ]
    expect(await handle(Events.checkHandler(settings))).toEqual({ code: 64, stdout: [], stderr: needs })
    expect(await handle(Events.createHandler(topicSettings))).toEqual({ code: 64, stdout: [], stderr: needs })
  })

  it("a topic setting below 1: exit 64 naming the flag, nothing created", async () => {
    const r = await handle(Events.createHandler({ ...topicSettings, replicationFactor: 0 }), {
      KAFKA_BROKERS: "127.0.0.1:1"
    })
    expect(r).toEqual({ code: 64, stdout: [], stderr: ["--replication-factor must be at least 1"] })
  })
})
