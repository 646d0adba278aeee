import { afterAll, assert, describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Event from "../src/Event.js"
import * as Failure from "../src/Failure.js"
import * as Ledger from "../src/Ledger.js"
import * as Plugin from "../src/Plugin.js"
import * as Run from "../src/Run.js"
import * as TargetStore from "../src/TargetStore.js"
import * as Testing from "../src/testing.js"
import { node } from "./support.js"

const made: Array<string> = []
afterAll(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })))

// A batch file in a fresh directory; rules use the scripted runner and the in-memory store.
const batchFile = (rules: string, extra = "") => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "core-run-"))
  made.push(dir)
  const file = path.join(dir, "nightly.yaml")
  fs.writeFileSync(
    file,
    `batch: nightly
parameters:
  run_date: { type: date }
targets:
  store: memory
  roots: [out]
${extra}
rules:
${rules}`
  )
  return { file, ledgerDir: path.join(dir, "ledger") }
}

const setup = (options: { readonly failCleanOf?: ReadonlyArray<string> } = {}) => {
  const sink = Event.memory()
  const store = TargetStore.memory(options.failCleanOf ? { failOn: options.failCleanOf } : {})
  const scripted = Testing.scripted()
  const layer = Layer.mergeAll(Plugin.layer([Plugin.load(scripted.runner)]), store.layer, sink.layer, node)
  return { events: sink.events, cleaned: store.cleaned, log: scripted.log, layer }
}

const types = (events: ReadonlyArray<Event.Event>) =>
  events.map((e) => (e.ruleId ? `${e.type} ${e.ruleId}` : e.type))
const decodeEvent = Schema.decodeUnknownSync(Event.Event)

const rules3 = `  - { id: extract, kind: scripted, target: out/extract, options: { ms: 5 } }
  - { id: transform, kind: scripted, depends_on: [extract], target: out/transform, options: { ms: 5 } }
  - { id: publish, kind: scripted, depends_on: [transform], options: { ms: 5 } }`

// A predecessor that died mid-run on another host: its record still running, its lock in place.
const crashedPredecessor = (ledgerDir: string, file: string): string => {
  const batchDir = path.join(ledgerDir, "nightly")
  fs.mkdirSync(batchDir, { recursive: true })
  const old = {
    version: 1,
    runId: "old-run",
    batch: "nightly",
    batchFile: file,
    parameters: { run_date: "2026-11-25" },
    pid: 999999,
    host: "other-host",
    status: "running",
    startedAt: "2026-11-25T03:00:00.000Z",
    heartbeatAt: "2026-11-25T03:10:00.000Z",
    engineSessionId: "b5c2f6e0-0000-4000-8000-000000000001",
    rules: { a: { state: "running", attempt: 1 } }
  }
  fs.writeFileSync(path.join(batchDir, "old-run.json"), JSON.stringify(old))
  fs.writeFileSync(
    path.join(batchDir, "lock"),
    JSON.stringify({ runId: "old-run", pid: 999999, host: "other-host" })
  )
  return batchDir
}

describe("Run", () => {
  it.live("succeeds: cleans targets, then runs every rule, publishing each transition", () =>
    Effect.gen(function* () {
      const { file, ledgerDir } = batchFile(rules3)
      const t = setup()
      const outcome = yield* Run.run({
        batchFile: file,
        ledgerDir,
        params: { run_date: "2026-11-26" },
        runId: "run-ok",
        logFile: "/var/log/etl/run-ok.jsonl"
      }).pipe(Effect.provide(t.layer))
      expect(outcome).toMatchObject({ runId: "run-ok", status: "succeeded", exitCode: 0 })
      expect(t.cleaned).toEqual(["out/extract", "out/transform"])
      expect(types(t.events)).toEqual([
        "batch.started",
        "rule.started extract",
        "rule.succeeded extract",
        "rule.started transform",
        "rule.succeeded transform",
        "rule.started publish",
        "rule.succeeded publish",
        "batch.succeeded"
      ])
      for (const e of t.events) {
        expect(decodeEvent(e)).toEqual(e)
        expect(e).toMatchObject({
          batch: "nightly",
          runId: "run-ok",
          pid: process.pid,
          parameters: { run_date: "2026-11-26" },
          logFile: "/var/log/etl/run-ok.jsonl"
        })
      }
      expect(new Set(t.events.map((e) => e.id)).size).toBe(t.events.length)
      expect(t.events.at(-1)).toMatchObject({ exitCode: 0 })
      const [record] = yield* Ledger.list(ledgerDir, "nightly").pipe(Effect.provide(node))
      assert(record !== undefined)
      expect(record.status).toBe("succeeded")
      expect(record.outcome).toEqual({ exitCode: 0 })
      expect(Object.values(record.rules).map((r) => r.state)).toEqual(["succeeded", "succeeded", "succeeded"])
      expect(fs.existsSync(path.join(ledgerDir, "nightly", "lock"))).toBe(false)
    })
  )

  it.live("fails on a capturable rule failure: exit 1, siblings interrupted, the rest not run", () =>
    Effect.gen(function* () {
      const { file, ledgerDir } = batchFile(
        `  - { id: bad_sql, kind: scripted, options: { ms: 20, fail: sql } }
  - { id: slow, kind: scripted, options: { ms: 5000 } }
  - { id: after, kind: scripted, depends_on: [bad_sql, slow] }`,
        "engine: { parallelism: 4 }"
      )
      const t = setup()
      const outcome = yield* Run.run({ batchFile: file, ledgerDir, params: { run_date: "2026-11-26" } }).pipe(
        Effect.provide(t.layer)
      )
      expect(outcome).toMatchObject({ status: "failed", exitCode: 1 })
      expect(outcome.failure).toMatchObject({
        _tag: "SqlError",
        code: "UNRESOLVED_COLUMN",
        ruleId: "bad_sql"
      })
      expect(t.log.events).toContainEqual({ rule: "slow", event: "interrupted" })
      expect(t.log.events.map((e) => e.rule)).not.toContain("after")
      const last = t.events.at(-1)!
      expect(last).toMatchObject({
        type: "batch.failed",
        exitCode: 1,
        ruleId: "bad_sql",
        failure: {
          category: "capturable",
          code: "UNRESOLVED_COLUMN",
          sqlState: "42703",
          restartMayHelp: false
        }
      })
      expect(t.events.find((e) => e.type === "rule.failed" && e.ruleId === "slow")?.failure?.category).toBe(
        "interrupted"
      )
      const [record] = yield* Ledger.list(ledgerDir, "nightly").pipe(Effect.provide(node))
      expect(record?.status).toBe("failed")
      expect(record?.rules).toMatchObject({
        bad_sql: { state: "failed", attempt: 1, error: { code: "UNRESOLVED_COLUMN" } },
        slow: { state: "interrupted" },
        after: { state: "not_run", attempt: 0 }
      })
      expect(record?.outcome).toMatchObject({ exitCode: 1, ruleId: "bad_sql" })
    })
  )

  it.live("ends with exit 2 on a system failure", () =>
    Effect.gen(function* () {
      const { file, ledgerDir } = batchFile(`  - { id: a, kind: scripted, options: { fail: unreachable } }`)
      const t = setup()
      const outcome = yield* Run.run({ batchFile: file, ledgerDir, params: { run_date: "2026-11-26" } }).pipe(
        Effect.provide(t.layer)
      )
      expect(outcome).toMatchObject({ status: "failed", exitCode: 2 })
      expect(t.events.at(-1)).toMatchObject({
        type: "batch.failed",
        failure: { category: "system", code: "ENGINE_UNREACHABLE", restartMayHelp: true }
      })
    })
  )

  it.live("rejects an invalid batch with exit 3 before any side effect, and still escalates", () =>
    Effect.gen(function* () {
      const { file, ledgerDir } = batchFile(`  - { id: a, kind: scripted, depends_on: [ghost] }`)
      const t = setup()
      const outcome = yield* Run.run({ batchFile: file, ledgerDir }).pipe(Effect.provide(t.layer))
      expect(outcome).toMatchObject({ status: "rejected", exitCode: 3 })
      assert(outcome.failure?._tag === "ConfigRejected")
      expect(outcome.failure.issues.map((i) => i.message)).toEqual([
        'required parameter "run_date" was not given (--param run_date=…)',
        'rule "a" depends on unknown rule "ghost"'
      ])
      expect(types(t.events)).toEqual(["batch.failed"])
      expect(t.events[0]).toMatchObject({ batch: "nightly", exitCode: 3, failure: { category: "rejected" } })
      expect(t.cleaned).toEqual([])
      expect(fs.existsSync(ledgerDir)).toBe(false)
    })
  )

  it.live("fails before any rule runs when cleanup fails", () =>
    Effect.gen(function* () {
      const { file, ledgerDir } = batchFile(rules3)
      const t = setup({ failCleanOf: ["out/transform"] })
      const outcome = yield* Run.run({ batchFile: file, ledgerDir, params: { run_date: "2026-11-26" } }).pipe(
        Effect.provide(t.layer)
      )
      expect(outcome).toMatchObject({ status: "failed", exitCode: 1 })
      expect(outcome.failure).toMatchObject({
        _tag: "TargetError",
        code: "TARGET_CLEANUP_FAILED",
        ruleId: "transform"
      })
      expect(t.log.events).toEqual([])
      expect(types(t.events)).toEqual(["batch.failed transform"])
      const [record] = yield* Ledger.list(ledgerDir, "nightly").pipe(Effect.provide(node))
      expect(record?.status).toBe("failed")
      expect(Object.values(record?.rules ?? {}).map((r) => r.state)).toEqual([
        "pending",
        "pending",
        "pending"
      ])
    })
  )

  it.live("stops on a signal: in-flight rule interrupted, batch.aborted, exit 130", () =>
    Effect.gen(function* () {
      const { file, ledgerDir } = batchFile(`  - { id: long, kind: scripted, options: { ms: 10000 } }`)
      const t = setup()
      const stop = yield* Deferred.make<Failure.Interrupted>()
      const fiber = yield* Run.run({
        batchFile: file,
        ledgerDir,
        params: { run_date: "2026-11-26" },
        stop: Deferred.await(stop)
      }).pipe(Effect.provide(t.layer), Effect.forkChild)
      while (!t.log.running.has("long")) yield* Effect.sleep("5 millis")
      yield* Deferred.succeed(stop, new Failure.Interrupted({ message: "SIGINT received", signal: "SIGINT" }))
      const outcome = yield* Fiber.join(fiber)
      expect(outcome).toMatchObject({ status: "aborted", exitCode: 130 })
      expect(t.log.events).toContainEqual({ rule: "long", event: "interrupted" })
      expect(t.events.at(-1)).toMatchObject({ type: "batch.aborted", exitCode: 130 })
      const [record] = yield* Ledger.list(ledgerDir, "nightly").pipe(Effect.provide(node))
      expect(record?.status).toBe("aborted")
    })
  )

  it.live("refuses to start while another live run holds the batch (exit 3)", () =>
    Effect.gen(function* () {
      const { file, ledgerDir } = batchFile(`  - { id: long, kind: scripted, options: { ms: 10000 } }`)
      const first = setup()
      const fiber = yield* Run.run({ batchFile: file, ledgerDir, params: { run_date: "2026-11-26" } }).pipe(
        Effect.provide(first.layer),
        Effect.forkChild
      )
      while (!first.log.running.has("long")) yield* Effect.sleep("5 millis")
      const second = setup()
      const outcome = yield* Run.run({ batchFile: file, ledgerDir, params: { run_date: "2026-11-26" } }).pipe(
        Effect.provide(second.layer)
      )
      expect(outcome).toMatchObject({ status: "rejected", exitCode: 3, failure: { code: "BATCH_LOCKED" } })
      expect(second.log.events).toEqual([])
      yield* Fiber.interrupt(fiber)
    })
  )

  it.live("records an abort when the caller interrupts the run itself", () =>
    Effect.gen(function* () {
      const { file, ledgerDir } = batchFile(`  - { id: long, kind: scripted, options: { ms: 10000 } }`)
      const t = setup()
      const fiber = yield* Run.run({ batchFile: file, ledgerDir, params: { run_date: "2026-11-26" } }).pipe(
        Effect.provide(t.layer),
        Effect.forkChild
      )
      while (!t.log.running.has("long")) yield* Effect.sleep("5 millis")
      yield* Fiber.interrupt(fiber)
      expect(t.log.events).toContainEqual({ rule: "long", event: "interrupted" })
      expect(t.events.at(-1)).toMatchObject({ type: "batch.aborted", exitCode: 130 })
      const [record] = yield* Ledger.list(ledgerDir, "nightly").pipe(Effect.provide(node))
      expect(record?.status).toBe("aborted")
      expect(fs.existsSync(path.join(ledgerDir, "nightly", "lock"))).toBe(false)
    })
  )

  it.live("reports a crashed predecessor and records the engine session", () =>
    Effect.gen(function* () {
      const { file, ledgerDir } = batchFile(`  - { id: a, kind: scripted }`)
      crashedPredecessor(ledgerDir, file)
      const t = setup()
      const fenced: Array<string> = []
      const outcome = yield* Run.run({
        batchFile: file,
        ledgerDir,
        params: { run_date: "2026-11-26" },
        runId: "new-run",
        engineSessionId: "b5c2f6e0-0000-4000-8000-000000000002",
        // Fencing comes before the crash is reported, the lock taken and any cleanup.
        fence: (p) =>
          Effect.sync(() => {
            fenced.push(`${p.engineSessionId} after ${t.events.map((e) => e.type).join(",")}`)
          })
      }).pipe(Effect.provide(t.layer))
      expect(outcome).toMatchObject({ status: "succeeded", exitCode: 0 })
      expect(fenced).toEqual(["b5c2f6e0-0000-4000-8000-000000000001 after "])
      expect(outcome.crashedPredecessor).toMatchObject({
        runId: "old-run",
        status: "crashed",
        engineSessionId: "b5c2f6e0-0000-4000-8000-000000000001"
      })
      expect(t.events[0]).toMatchObject({
        type: "batch.crashed",
        runId: "old-run",
        host: "other-host",
        pid: 999999,
        parameters: { run_date: "2026-11-25" },
        failure: { category: "system", code: "RUN_CRASHED", restartMayHelp: true }
      })
      const records = yield* Ledger.list(ledgerDir, "nightly").pipe(Effect.provide(node))
      expect(Object.fromEntries(records.map((r) => [r.runId, [r.status, r.engineSessionId]]))).toEqual({
        "old-run": ["crashed", "b5c2f6e0-0000-4000-8000-000000000001"],
        "new-run": ["succeeded", "b5c2f6e0-0000-4000-8000-000000000002"]
      })
    })
  )

  it.live("fails as a system failure, reporting nothing, when a crashed predecessor cannot be fenced", () =>
    Effect.gen(function* () {
      const { file, ledgerDir } = batchFile(`  - { id: a, kind: scripted }`)
      const batchDir = crashedPredecessor(ledgerDir, file)
      const t = setup()
      const outcome = yield* Run.run({
        batchFile: file,
        ledgerDir,
        params: { run_date: "2026-11-26" },
        fence: () =>
          Effect.fail(
            new Failure.EngineUnreachable({ code: "FENCE_FAILED", message: "Spark did not answer" })
          )
      }).pipe(Effect.provide(t.layer))
      expect(outcome).toMatchObject({ status: "failed", exitCode: 2, failure: { code: "FENCE_FAILED" } })
      // The crash stays to be reported (once) by whoever fences it; nothing of this run started.
      expect(t.events.map((e) => e.type)).toEqual(["batch.failed"])
      expect(JSON.parse(fs.readFileSync(path.join(batchDir, "old-run.json"), "utf8"))).toMatchObject({
        status: "running"
      })
      expect(JSON.parse(fs.readFileSync(path.join(batchDir, "lock"), "utf8"))).toMatchObject({
        runId: "old-run"
      })
    })
  )

  it("gives a crashed run's report an id of its own, the same each time it is made", () => {
    const p = {
      version: 1,
      runId: "old-run",
      batch: "nightly",
      batchFile: "/b.yaml",
      parameters: {},
      pid: 1,
      host: "h",
      status: "running",
      startedAt: "2026-11-25T03:00:00.000Z",
      heartbeatAt: "2026-11-25T03:10:00.000Z",
      rules: {}
    } as const
    const a = Run.crashedEvent(p, "2026-11-26T00:00:00.000Z")
    const b = Run.crashedEvent(p, "2026-11-27T00:00:00.000Z")
    expect(a.id).toBe(b.id)
    expect(a.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(Run.crashedEvent({ ...p, runId: "other" }, a.time).id).not.toBe(a.id)
  })

  it.live("cleans through a target store that a runner brings, chosen by targets.store", () =>
    Effect.gen(function* () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "core-run-"))
      made.push(dir)
      const file = path.join(dir, "tables.yaml")
      fs.writeFileSync(
        file,
        `batch: tables
targets: { store: spark_tables, roots: [sales] }
rules:
  - { id: a, kind: with_store, target: sales.daily }
`
      )
      const tables = TargetStore.memory({ name: "spark_tables" })
      const scripted = Testing.scripted("with_store")
      const runner: Plugin.Runner<Testing.ScriptedOptions> = {
        ...scripted.runner,
        targetStore: Effect.provide(TargetStore.TargetStore, tables.layer)
      }
      const sink = Event.memory()
      const fsStore = TargetStore.memory()
      const outcome = yield* Run.run({ batchFile: file, ledgerDir: path.join(dir, "ledger") }).pipe(
        Effect.provide(Layer.mergeAll(Plugin.layer([Plugin.load(runner)]), fsStore.layer, sink.layer, node))
      )
      expect(outcome).toMatchObject({ status: "succeeded", exitCode: 0 })
      expect(tables.cleaned).toEqual(["sales.daily"])
      expect(fsStore.cleaned).toEqual([])
    })
  )

  it.live("stops before any side effect on the engine when the signal came while loading", () =>
    Effect.gen(function* () {
      const { file, ledgerDir } = batchFile(rules3)
      const t = setup()
      const stop = yield* Deferred.make<Failure.Interrupted>()
      yield* Deferred.succeed(
        stop,
        new Failure.Interrupted({ message: "SIGTERM received", signal: "SIGTERM" })
      )
      const outcome = yield* Run.run({
        batchFile: file,
        ledgerDir,
        params: { run_date: "2026-11-26" },
        stop: Deferred.await(stop)
      }).pipe(Effect.provide(t.layer))
      expect(outcome).toMatchObject({ status: "aborted", exitCode: 143 })
      expect(t.cleaned).toEqual([])
      expect(t.log.events).toEqual([])
      expect(types(t.events)).toEqual(["batch.aborted"])
      const [record] = yield* Ledger.list(ledgerDir, "nightly").pipe(Effect.provide(node))
      expect(record?.status).toBe("aborted")
    })
  )
})
