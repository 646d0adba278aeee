// `outbox flush`: what it says of a drain and the exit code it ends with; without Kafka, or with a
// broker list that cannot be right, it stops before reaching for one.
import { Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as Outbox from "../../src/commands/outbox.js"
import { handle } from "./support.js"

const flags = (state: string) => ({
  stateDir: Option.some(state),
  kafkaBrokers: Option.none<string>(),
  kafkaTopic: Option.none<string>(),
  siteConfig: Option.none<string>()
})

describe("outbox flush", () => {
  it("an outbox left empty is a success; anything remaining is a system failure", () => {
    expect(Outbox.flushed("/s/outbox.jsonl", { delivered: 3, remaining: 0, quarantined: 1 })).toEqual({
      line: "outbox /s/outbox.jsonl: delivered 3, remaining 0, quarantined 1",
      exitCode: 0
    })
    expect(Outbox.flushed("/s/outbox.jsonl", { delivered: 0, remaining: 2, quarantined: 0 }).exitCode).toBe(2)
  })

  it("without --kafka-brokers or KAFKA_BROKERS: exit 64, saying what to give", async () => {
    const state = fs.mkdtempSync(path.join(os.tmpdir(), "cli-outbox-"))
    expect(await handle(Outbox.handler(flags(state)))).toEqual({
      code: 64,
      stdout: [],
      stderr: [
        "outbox flush needs Kafka: give --kafka-brokers, set KAFKA_BROKERS or kafka.brokers in the site config"
      ]
    })
  })

  it("KAFKA_BROKERS that is no host:port list: exit 64 naming it, the outbox untouched", async () => {
    const state = fs.mkdtempSync(path.join(os.tmpdir(), "cli-outbox-"))
    const r = await handle(Outbox.handler(flags(state)), { KAFKA_BROKERS: "kafka-1" })
    expect(r.code).toBe(64)
    expect(r.stderr.join("\n")).toContain(
      "invalid Kafka reporter configuration: brokers.0 (env KAFKA_BROKERS): "
    )
    expect(fs.readdirSync(state)).toEqual([])
  })
})
