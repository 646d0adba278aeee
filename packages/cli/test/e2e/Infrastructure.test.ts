// The platform side: Spark unreachable is a system failure within the deadline; Kafka down
// never changes the batch's outcome, and the spooled events reach Kafka with the next run.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { batchFile, cli, cliMain, events, kafka, ofType, spark, topic, runArgs } from "./harness.js"

const simple = (name: string) => `batch: ${name}
targets:
  roots: [output]
rules:
  - id: numbers
    kind: sql
    target: output/numbers
    options:
      sql: SELECT id FROM range(10)
`

describe("infrastructure failures", () => {
  it("Spark unreachable: exit 2 within the configured deadline, one batch.failed of category system", async () => {
    const b = batchFile(simple("no_spark"))
    const t = await topic("no-spark")
    const r = await cli([
      "run",
      b.batch,
      "--remote",
      "sc://127.0.0.1:1",
      "--spark-timeout",
      "5",
      "--state-dir",
      b.stateDir,
      "--kafka-brokers",
      kafka(),
      "--kafka-topic",
      t
    ])
    expect(r.code, r.stderr).toBe(2)
    expect(r.ms).toBeLessThan(20_000)
    expect(r.stdout).toMatch(/spark-etl FAILED batch=no_spark .*exit=2 category=system/)
    const failed = ofType(events(t), "batch.failed")
    expect(failed).toHaveLength(1)
    expect(failed[0]?.["failure"]).toMatchObject({ category: "system", restartMayHelp: true })
  })

  it("Kafka down: the batch's own exit code, events in the outbox, delivered by the next run", async () => {
    const b = batchFile(simple("no_kafka"))
    const t = await topic("no-kafka")
    const down = await cli([
      "run",
      b.batch,
      "--remote",
      spark(),
      "--state-dir",
      b.stateDir,
      "--kafka-brokers",
      "127.0.0.1:1",
      "--kafka-topic",
      t
    ])
    expect(down.code, down.stderr).toBe(0)
    const outbox = path.join(b.stateDir, "outbox.jsonl")
    const spooled = fs.readFileSync(outbox, "utf8").trim().split("\n")
    expect(spooled.length).toBeGreaterThanOrEqual(2)
    expect(events(t)).toHaveLength(0)
    const firstRun = /run=(\S+)/.exec(down.stdout)?.[1]

    const up = await cli(runArgs(b, t))
    expect(up.code, up.stderr).toBe(0)
    const all = events(t)
    const succeeded = ofType(all, "batch.succeeded")
    expect(succeeded.map((e) => e["runId"])).toContain(firstRun)
    expect(succeeded).toHaveLength(2)
    // The earlier run's events come first, in their order.
    expect(all[0]?.value["data"]).toMatchObject({ runId: firstRun })
    expect(fs.existsSync(outbox) ? fs.readFileSync(outbox, "utf8").trim() : "").toBe("")
  })

  it("outbox flush delivers waiting events on demand", async () => {
    const b = batchFile(simple("flush"))
    const t = await topic("flush")
    const down = await cli([
      "run",
      b.batch,
      "--remote",
      spark(),
      "--state-dir",
      b.stateDir,
      "--kafka-brokers",
      "127.0.0.1:1",
      "--kafka-topic",
      t
    ])
    expect(down.code, down.stderr).toBe(0)
    const flush = await cli([
      "outbox",
      "flush",
      "--state-dir",
      b.stateDir,
      "--kafka-brokers",
      kafka(),
      "--kafka-topic",
      t
    ])
    expect(flush.code, flush.stderr).toBe(0)
    expect(flush.stdout).toMatch(/delivered [1-9]\d*, remaining 0/)
    expect(ofType(events(t), "batch.succeeded")).toHaveLength(1)
  })

  it("a Node.js older than 22 on PATH: exit 2 (a platform failure, not a rule's), naming the Node found", () => {
    // The runtime reports itself as Node 20 before the CLI loads (AutoSys hosts may have one).
    const asNode20 = `data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.20.2"})`
    const r = spawnSync(process.execPath, ["--import", asNode20, cliMain, "--help"], { encoding: "utf8" })
    expect(r.status).toBe(2)
    expect(r.stderr).toContain(`spark-etl needs Node.js 22 or newer; ${process.execPath} is 20.20.2`)
    expect(r.stdout).toBe("")
  })
})
