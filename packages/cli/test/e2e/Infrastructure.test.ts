// The platform side: Spark unreachable is a system failure within the deadline; Kafka down
// never changes the batch's outcome, and the spooled events reach Kafka with the next run; the
// events go to the topic the command line names, else the batch file's, else the environment's;
// use_ssl=true speaks TLS to Spark.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { batchFile, cli, cliMain, events, kafka, ofType, runArgs, spark, topic } from "./harness.js"
import { startTlsFront, type TlsFront } from "./servers.js"

// A port where no Spark server listens.
const deadSpark = "sc://127.0.0.1:1"

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

// A run of the batch on the test run's Spark while Kafka does not answer (nothing listens).
const runKafkaDown = (b: { batch: string; stateDir: string }, t: string) =>
  cli(runArgs(b, t, { brokers: "127.0.0.1:1" }))

describe("infrastructure failures", () => {
  it("Spark unreachable: exit 2 within the configured deadline, one batch.failed of category system", async () => {
    const b = batchFile(simple("no_spark"))
    const t = await topic("no-spark")
    const r = await cli(runArgs(b, t, { remote: deadSpark, extra: ["--spark-timeout", "5"] }))
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
    const down = await runKafkaDown(b, t)
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
    const down = await runKafkaDown(b, t)
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

  it("--kafka-topic wins over the batch file's escalation.topic, which wins over SPARK_ETL_KAFKA_TOPIC", async () => {
    const [fromFlag, fromFile, fromEnv] = await Promise.all([
      topic("topic-flag"),
      topic("topic-file"),
      topic("topic-env")
    ])
    const b = batchFile(`${simple("routed")}escalation:
  topic: ${fromFile}
`)
    const env = { SPARK_ETL_KAFKA_TOPIC: fromEnv }
    // Spark unreachable: the batch file is read (its topic known), then the run fails fast.
    const failFast = (kafkaTopic: string | undefined) =>
      cli(runArgs(b, kafkaTopic, { remote: deadSpark, extra: ["--spark-timeout", "3"] }), env)
    const types = (t: string) => events(t).map((e) => e.value["type"])

    const flagged = await failFast(fromFlag)
    expect(flagged.code, flagged.stderr).toBe(2)
    expect(types(fromFlag)).toEqual(["spark-etl.batch.failed"])
    expect(events(fromFlag)[0]?.key).toBe("routed")
    expect(types(fromFile)).toEqual([])
    expect(types(fromEnv)).toEqual([])

    // Without the flag, the same batch's event goes to its file's topic, not the environment's.
    const unflagged = await failFast(undefined)
    expect(unflagged.code, unflagged.stderr).toBe(2)
    expect(types(fromFile)).toEqual(["spark-etl.batch.failed"])
    expect(types(fromFlag)).toEqual(["spark-etl.batch.failed"])
    expect(types(fromEnv)).toEqual([])
  })

  it("a Node.js older than 22 on PATH: exit 2 (a platform failure, not a rule's), naming the Node found", () => {
    // The runtime reports itself as Node 20 before the CLI loads (AutoSys hosts may have one).
    const asNode20 = `data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.20.2"})`
    const r = spawnSync(process.execPath, ["--import", asNode20, cliMain, "--help"], { encoding: "utf8" })
    expect(r.status).toBe(2)
    expect(r.stderr).toContain(`spark-etl needs Node.js 22 or newer; ${process.execPath} is 20.20.2`)
    expect(r.stdout).toBe("")
  })

  it("events check and create-topic: a missing topic said with the way out, created once, then described", async () => {
    const t = `e2e-events-${Date.now()}`
    const on = ["--kafka-brokers", kafka(), "--kafka-topic", t]
    const missing = await cli(["events", "check", ...on])
    expect(missing.code).toBe(3)
    expect(missing.stderr).toContain(`events: topic ${t} does not exist (the reporter never creates one)`)
    expect(missing.stderr).toContain("events: create it with `spark-etl events create-topic`")
    // The production defaults want 3 replicas; this one broker cannot give them, and says so.
    const refused = await cli(["events", "create-topic", ...on])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain(
      "events: Kafka createTopic failed (UNKNOWN): Topic creation errors: Replication-factor is invalid"
    )
    const small = [
      "--partitions",
      "2",
      "--replication-factor",
      "1",
      "--min-insync-replicas",
      "1",
      "--retention-days",
      "3"
    ]
    const created = await cli(["events", "create-topic", ...on, ...small])
    expect(created.code, created.stderr).toBe(0)
    expect(created.stdout.trim()).toBe(
      `events topic ${t} created: 2 partition(s), replication 1, min.insync.replicas 1, retention 3 days`
    )
    const again = await cli(["events", "create-topic", ...on, ...small])
    expect(again.stdout.trim()).toBe(
      `events topic ${t} exists already: left as it is (spark-etl events check shows it)`
    )
    const checked = await cli(["events", "check", ...on])
    expect(checked.code, checked.stderr).toBe(0)
    expect(checked.stdout.trim()).toBe(
      `events topic ${t} on ${kafka()}: 2 partition(s), replication 1, min.insync.replicas 1, retention 3.0 days; events written with payload schema 1.0`
    )
  })

  it("events check with Kafka unreachable: exit 2 naming the broker's failure", async () => {
    const r = await cli(["events", "check", "--kafka-brokers", "127.0.0.1:1"])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(
      "events: Kafka describeTopic failed (BROKER_UNREACHABLE): Connection error: connect ECONNREFUSED 127.0.0.1:1"
    )
  })
})

// `use_ssl=true` in the connection string: the CLI speaks TLS, checked against the roots gRPC is
// given, to a TLS front of the shared server; the same front refuses plaintext, and a run that
// does not trust its certificate is a system failure that says so.
describe("Spark Connect over TLS (use_ssl=true), without a token", () => {
  let front: TlsFront
  beforeAll(async () => {
    front = await startTlsFront(Number(new URL(spark().replace(/^sc:/, "http:")).port))
  })
  afterAll(async () => {
    await front?.close()
  })

  it("reaches Spark through TLS, trusting the CA of GRPC_DEFAULT_SSL_ROOTS_FILE_PATH or NODE_EXTRA_CA_CERTS; plaintext or an untrusted certificate: exit 2 naming the connection's failure", async () => {
    const b = batchFile(simple("over_tls"))
    const t = await topic("over-tls")
    const run = (remote: string, env: Record<string, string>) =>
      cli(runArgs(b, t, { remote, extra: ["--spark-timeout", "10"] }), env)
    const tls = `sc://127.0.0.1:${front.port}/;use_ssl=true`
    for (const trust of ["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "NODE_EXTRA_CA_CERTS"]) {
      const ok = await run(tls, { [trust]: front.caFile })
      expect(ok.code, `${trust}: ${ok.stderr}`).toBe(0)
      expect(ok.stdout).toMatch(/^spark-etl SUCCEEDED batch=over_tls /m)
    }

    const untrusted = await run(tls, {})
    expect(untrusted.code, untrusted.stderr).toBe(2)
    expect(untrusted.stdout).toMatch(
      /spark-etl FAILED batch=over_tls .*exit=2 category=system code=ENGINE_UNREACHABLE /
    )
    // OpenSSL's verdict and where to give the CA, without Node's own hint (--use-system-ca).
    expect(untrusted.stderr).toMatch(
      /cannot open the engine session: self-signed certificate \(the server's certificate is not trusted: give its CA in GRPC_DEFAULT_SSL_ROOTS_FILE_PATH or NODE_EXTRA_CA_CERTS\)/
    )
    expect(untrusted.stderr).not.toMatch(/use-system-ca/)

    const plaintext = await run(`sc://127.0.0.1:${front.port}`, {
      GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: front.caFile
    })
    expect(plaintext.code, plaintext.stderr).toBe(2)
    expect(plaintext.stdout).toMatch(
      /spark-etl FAILED batch=over_tls .*exit=2 category=system code=ENGINE_UNREACHABLE /
    )
    expect(plaintext.stderr).toMatch(
      /cannot open the engine session: the connection closed before the server spoke HTTP\/2 \(a TLS port, without use_ssl=true\?\)/
    )
  })
})
