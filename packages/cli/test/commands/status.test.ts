// What `status` prints for ledger records and for what it settled, and its handler on a ledger a
// crashed run left, in-process: crash reporting is core's Run.reportCrashed, shared with `run`.
import { Event, type Ledger, Run } from "@spark-etl/core"
import { Effect, Logger, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import * as Status from "../../src/commands/status.js"
import { handle } from "./support.js"

const record = (runId: string, overrides: Partial<Ledger.Record> = {}): Ledger.Record => ({
  version: 1,
  runId,
  batch: "daily",
  batchFile: "/batches/daily.yaml",
  parameters: { run_date: "2026-11-26" },
  pid: 4242,
  host: "etl-host-1",
  status: "succeeded",
  startedAt: "2026-11-26T01:00:00.000Z",
  heartbeatAt: "2026-11-26T01:05:00.000Z",
  rules: {},
  ...overrides
})

describe("status's lines", () => {
  it("one line per run: status, run, pid@host, exit, failed rule and code, UNFENCED, heartbeat", () => {
    expect(Status.recordLine(record("r-ok", { outcome: { exitCode: 0 } }))).toBe(
      "2026-11-26T01:00:00.000Z  succeeded run=r-ok pid=4242@etl-host-1 exit=0 heartbeat=2026-11-26T01:05:00.000Z"
    )
    const failed = record("r-bad", {
      status: "failed",
      unfenced: true,
      outcome: {
        exitCode: 1,
        ruleId: "totals",
        failure: { category: "capturable", code: "DIVIDE_BY_ZERO", message: "x", restartMayHelp: false }
      }
    })
    expect(Status.recordLine(failed)).toBe(
      "2026-11-26T01:00:00.000Z  failed    run=r-bad pid=4242@etl-host-1 exit=1 rule=totals code=DIVIDE_BY_ZERO UNFENCED heartbeat=2026-11-26T01:05:00.000Z"
    )
    expect(Status.recordLine(record("r-live", { status: "running" }))).toBe(
      "2026-11-26T01:00:00.000Z  running   run=r-live pid=4242@etl-host-1 heartbeat=2026-11-26T01:05:00.000Z"
    )
  })

  it("says when there are no runs, and shows the newest ten", () => {
    expect(Status.recordLines("daily", "/s/ledger", [])).toEqual(["no runs of daily in /s/ledger"])
    const many = Array.from({ length: 12 }, (_, i) => record(`r-${i}`))
    expect(Status.recordLines("daily", "/s/ledger", many).map((l) => l.match(/run=(\S+)/)?.[1])).toEqual(
      many.slice(0, 10).map((r) => r.runId)
    )
  })

  it("says what it settled: events sent first, then sessions fenced", () => {
    expect(Status.crashedLine(record("old", { pid: 7, host: "h" }))).toBe(
      "run old (pid 7 on h) had crashed: fenced, batch.crashed reported, batch freed"
    )
    const sent = record("a", {
      terminalEvent: { ...Run.crashedEvent(record("a"), "t"), type: "batch.failed" }
    })
    expect(Status.settledLines({ republished: [sent, record("b")], fenced: [record("c")] })).toEqual([
      "run a: its recorded batch.failed sent",
      "run b: its recorded terminal event sent",
      "run c had ended unfenced: its Spark session is fenced now"
    ])
  })
})

describe("Run.reportCrashed", () => {
  it("warns, then publishes batch.crashed with the id derived from the run id and the routing given", async () => {
    const sink = Event.memory()
    const warnings: Array<string> = []
    const capture = Logger.layer([Logger.make(({ message }) => void warnings.push(String(message)))])
    const crashed = record("old", { status: "running", pid: 7, host: "h" })
    await Effect.runPromise(
      Effect.flatMap(Event.EventSink, (s) => Run.reportCrashed(s, { topic: "etl.events" })(crashed)).pipe(
        Effect.provide(sink.layer),
        Effect.provide(capture)
      )
    )
    expect(warnings).toEqual(["previous run old (pid 7 on h) crashed; reporting it"])
    expect(sink.events).toHaveLength(1)
    expect(sink.events[0]).toMatchObject({
      id: Run.crashedEvent(crashed, "any").id,
      type: "batch.crashed",
      runId: "old",
      topic: "etl.events",
      failure: { code: "RUN_CRASHED", category: "system" }
    })
  })
})

describe("status's handler", () => {
  // What the handler's logger writes to stderr (its warnings), kept out of the test output.
  let written: Array<string> = []
  beforeEach(() => {
    written = []
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk))
      return true
    })
  })
  afterEach(() => vi.restoreAllMocks())

  // A ledger with a run that holds its batch with a stale heartbeat, as a SIGKILL leaves it.
  const crashedLedger = (overrides: Partial<Ledger.Record> = {}) => {
    const state = fs.mkdtempSync(path.join(os.tmpdir(), "cli-status-"))
    const dir = path.join(state, "ledger", "daily")
    fs.mkdirSync(dir, { recursive: true })
    const stale = record("old", { status: "running", host: "elsewhere", pid: 1, ...overrides })
    fs.writeFileSync(path.join(dir, "old.json"), JSON.stringify(stale))
    fs.writeFileSync(path.join(dir, "lock"), JSON.stringify({ runId: "old", pid: 1, host: "elsewhere" }))
    return { state, dir }
  }
  const flags = (state: string) => ({
    batchName: "daily",
    rules: false,
    stateDir: Option.some(state),
    remote: Option.none<string>(),
    kafkaBrokers: Option.none<string>(),
    kafkaTopic: Option.none<string>(),
    sparkTimeout: Option.some(2),
    siteConfig: Option.none()
  })

  it("no runs: says so, exit 0", async () => {
    const state = fs.mkdtempSync(path.join(os.tmpdir(), "cli-status-"))
    const r = await handle(Status.handler(flags(state)))
    expect(r).toEqual({ code: 0, stdout: [`no runs of daily in ${path.join(state, "ledger")}`], stderr: [] })
  })

  it("a crashed run (no shared session): reported once, marked crashed, the batch freed; exit 0", async () => {
    const { state, dir } = crashedLedger()
    const r = await handle(Status.handler(flags(state)))
    expect(r.code).toBe(0)
    expect(r.stdout[0]).toBe(
      "run old (pid 1 on elsewhere) had crashed: fenced, batch.crashed reported, batch freed"
    )
    expect(r.stdout[1]).toMatch(/^\S+ {2}crashed {3}run=old pid=1@elsewhere heartbeat=/)
    expect(written.join("")).toContain("WARN previous run old (pid 1 on elsewhere) crashed; reporting it")
    expect(fs.existsSync(path.join(dir, "lock"))).toBe(false)
    // Once: the next look finds nothing to reap.
    const again = await handle(Status.handler(flags(state)))
    expect(again.stdout).toHaveLength(1)
  })

  it("a crashed run on a shared server while this status has none: exit 2, the batch stays locked", async () => {
    const { state, dir } = crashedLedger({ engineSessionId: "s-1" })
    const r = await handle(Status.handler(flags(state)), { SPARK_REMOTE: "local" })
    expect(r.code).toBe(2)
    expect(r.stderr.join("\n")).toContain("give the job's --remote to fence it")
    expect(fs.existsSync(path.join(dir, "lock"))).toBe(true)
    expect(JSON.parse(fs.readFileSync(path.join(dir, "old.json"), "utf8"))).toMatchObject({
      status: "running"
    })
  })

  it("a ledger that cannot be read: exit 2", async () => {
    const state = fs.mkdtempSync(path.join(os.tmpdir(), "cli-status-"))
    fs.mkdirSync(path.join(state, "ledger", "daily"), { recursive: true })
    fs.writeFileSync(path.join(state, "ledger", "daily", "torn.json"), "{")
    const r = await handle(Status.handler(flags(state)))
    expect(r.code).toBe(2)
    expect(r.stderr.join("\n")).toContain("cannot read the run ledger")
  })
})
