// What a batch cannot capture itself: signals from AutoSys (KILLJOB), the CLI killed outright,
// and two runs of one batch at once. Real processes, real Spark and Kafka. A fault meant to land
// mid-scan lands once the scan runs on a Spark server of these tests' own: its UI's view of its
// jobs is the witness.
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  batchFile,
  cli,
  endless,
  distinctOfType,
  events,
  kafka,
  ofType,
  runArgs,
  short,
  spark,
  start,
  summary,
  topic,
  waitFor,
  type Started
} from "./harness.js"
import { launchRunning, startKafka, startSpark, type OwnKafka, type OwnSpark } from "./servers.js"

// One Spark server of the file's own (one core, its UI on), for the runs faulted mid-scan.
let own: OwnSpark
beforeAll(async () => {
  own = await startSpark("system", { ui: true })
})
afterAll(async () => {
  await own?.close()
})

// Starts `args` (against the own server) and returns once its scan runs there.
const midScan = async (args: ReadonlyArray<string>): Promise<Started> => {
  const { run, job } = await launchRunning(own, () => start(args))
  if (job === undefined) run.child.kill("SIGKILL")
  expect(job, run.output()).toBeDefined()
  return run
}

describe("system-level failures", () => {
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143]
  ] as const) {
    it(`${signal} mid-rule: the query is interrupted on Spark, batch.aborted published, exit ${code} within 4 s`, async () => {
      const b = batchFile(endless(`signal_${code}`))
      const t = await topic(`signal-${code}`)
      const run = await midScan(runArgs(b, t, { remote: own.remote }))
      const sentAt = Date.now()
      run.child.kill(signal)
      const { code: exitCode, at } = await run.exited
      expect(exitCode, run.output()).toBe(code)
      expect(at - sentAt).toBeLessThan(4000)
      expect(run.output()).toMatch(/operation\(s\) stopped on the server/)
      expect(run.output()).toMatch(
        new RegExp(`spark-etl ABORTED batch=signal_${code} .*exit=${code} category=interrupted`)
      )
      const aborted = ofType(events(t), "batch.aborted")
      expect(aborted).toHaveLength(1)
      expect(aborted[0]).toMatchObject({ exitCode: code })
    })
  }

  it("SIGKILL mid-rule: the next run reports batch.crashed, fences the zombie query, then runs", async () => {
    const b = batchFile(endless("killed"))
    const t = await topic("killed")
    const args = runArgs(b, t, { remote: own.remote })
    const first = await midScan(args)
    first.child.kill("SIGKILL")
    await first.exited
    const killedRun = fs
      .readdirSync(path.join(b.stateDir, "ledger", "killed"))
      .find((f) => f.endsWith(".json"))
    const killedId = killedRun?.replace(/\.json$/, "")

    // The successor: same batch, a query that ends, so the run can complete after fencing.
    fs.writeFileSync(b.batch, short("killed"))
    const second = await cli(args)
    expect(second.code, second.stderr).toBe(0)
    expect(second.stderr).toMatch(
      new RegExp(`fenced crashed run ${killedId}: session [0-9a-f-]+, [1-9]\\d* operation\\(s\\) interrupted`)
    )
    const all = events(t)
    const crashed = ofType(all, "batch.crashed")
    expect(crashed).toHaveLength(1)
    expect(crashed[0]).toMatchObject({
      runId: killedId,
      failure: { category: "system", code: "RUN_CRASHED" }
    })
    expect(ofType(all, "batch.succeeded")).toHaveLength(1)
  })

  it("SIGKILL, then status: a fence that cannot reach Spark keeps the lock; one that can reports the crash once", async () => {
    const b = batchFile(endless("killed_status"))
    const t = await topic("killed-status")
    const run = await midScan(runArgs(b, t, { remote: own.remote }))
    run.child.kill("SIGKILL")
    await run.exited
    const status = (remote: string) =>
      cli([
        "status",
        "killed_status",
        "--state-dir",
        b.stateDir,
        "--remote",
        remote,
        "--spark-timeout",
        "2",
        "--kafka-brokers",
        kafka(),
        "--kafka-topic",
        t
      ])

    // Spark unreachable: nothing is known of the zombie, so the batch stays locked to it.
    const blind = await status("sc://127.0.0.1:1")
    expect(blind.code, blind.stderr).toBe(2)
    expect(blind.stderr).toMatch(/could not fence crashed run [0-9a-f-]+ \(session [0-9a-f-]+\)/)
    expect(fs.existsSync(path.join(b.stateDir, "ledger", "killed_status", "lock"))).toBe(true)
    expect(ofType(events(t), "batch.crashed")).toHaveLength(0)

    const seen = await status(own.remote)
    expect(seen.code, seen.stderr).toBe(0)
    expect(seen.stderr).toMatch(
      /fenced crashed run [0-9a-f-]+: session [0-9a-f-]+, [1-9]\d* operation\(s\) interrupted/
    )
    expect(seen.stdout).toMatch(/had crashed: fenced, batch.crashed reported, batch freed/)
    expect(seen.stdout).toMatch(/crashed +run=/)
    expect(fs.existsSync(path.join(b.stateDir, "ledger", "killed_status", "lock"))).toBe(false)

    // Nothing left to do for the next look, nor for the next run.
    const again = await status(own.remote)
    expect(again.code).toBe(0)
    expect(again.stdout).not.toMatch(/had crashed/)
    expect(ofType(events(t), "batch.crashed")).toHaveLength(1)
  })

  it("two runs of one batch at once: the second is refused with exit 3, naming the first", async () => {
    const b = batchFile(endless("twice"))
    const args = ["run", b.batch, "--remote", spark(), "--state-dir", b.stateDir]
    const first = start(args)
    expect(await waitFor(() => first.output().includes("rule started"), 60_000)).toBe(true)
    const second = await cli(args)
    expect(second.code, second.stderr).toBe(3)
    expect(second.stderr + second.stdout).toContain(String(first.child.pid))
    first.child.kill("SIGINT")
    expect((await first.exited).code).toBe(130)
  })
})

// A broker of these tests' own, frozen with SIGSTOP: connections stay open, nothing answers.
describe("signals while Kafka is frozen", () => {
  let broker: OwnKafka
  let brokers = ""
  const freeze = () => broker.freeze()
  const thaw = () => broker.thaw()

  beforeAll(async () => {
    broker = await startKafka("system-frozen")
    brokers = broker.brokers
  })
  afterAll(async () => {
    await broker.close()
  })

  // Runs the endless rule with Kafka healthy, and freezes Kafka once the scan runs on Spark.
  const frozenMidRule = async (name: string) => {
    const b = batchFile(endless(name))
    const t = await topic(name, brokers)
    const run = await midScan(runArgs(b, t, { remote: own.remote, brokers }))
    freeze()
    return { b, t, run }
  }

  const ledgerRecord = (stateDir: string, batch: string) => {
    const dir = path.join(stateDir, "ledger", batch)
    const file = fs.readdirSync(dir).find((f) => f.endsWith(".json")) ?? ""
    return JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as { status: string; endedAt?: string }
  }

  it("SIGINT: batch.aborted spooled, ledger closed, exit 130 within 4 s; delivered once Kafka answers", async () => {
    const { b, t, run } = await frozenMidRule("kafka_frozen")
    const sentAt = Date.now()
    run.child.kill("SIGINT")
    const { code: exitCode, at } = await run.exited
    const ms = at - sentAt
    thaw()
    console.log(`SIGINT with Kafka frozen: exited in ${ms} ms`)
    expect(exitCode, run.output()).toBe(130)
    expect(ms).toBeLessThan(4000)
    expect(run.output()).toMatch(/spark-etl ABORTED batch=kafka_frozen .*exit=130/)
    expect(ledgerRecord(b.stateDir, "kafka_frozen")).toMatchObject({
      status: "aborted",
      endedAt: expect.any(String)
    })
    expect(fs.readFileSync(path.join(b.stateDir, "outbox.jsonl"), "utf8")).toContain(
      "spark-etl.batch.aborted"
    )

    // Kafka answers again: the outbox is delivered, and the run has exactly one terminal event.
    const flushed = await cli([
      "outbox",
      "flush",
      "--state-dir",
      b.stateDir,
      "--kafka-brokers",
      brokers,
      "--kafka-topic",
      t
    ])
    expect(flushed.code, flushed.stderr).toBe(0)
    // At least once: an event sent into the frozen broker may arrive besides its outbox copy.
    const all = events(t, brokers)
    expect(distinctOfType(all, "batch.started")).toHaveLength(1)
    expect(distinctOfType(all, "batch.aborted")).toHaveLength(1)
    expect(ofType(all, "batch.failed")).toHaveLength(0)
  })

  it("a second signal exits at once, while the first one still waits on Kafka", async () => {
    const { run } = await frozenMidRule("second_signal")
    run.child.kill("SIGTERM")
    // The first stop is under way: the rule is stopped, its rule.interrupted event (logged just
    // before it is sent) waits on the frozen broker, and the run has not said how it ended.
    expect(
      await waitFor(() => run.output().includes("rule interrupted: the batch stopped"), 30_000),
      run.output()
    ).toBe(true)
    expect(summary(run.stdout())).not.toMatch(/^spark-etl /)
    const secondAt = Date.now()
    run.child.kill("SIGTERM")
    const { code: exitCode, at } = await run.exited
    const ms = at - secondAt
    thaw()
    expect(exitCode, run.output()).toBe(143)
    expect(ms).toBeLessThan(1000)
  })
})
