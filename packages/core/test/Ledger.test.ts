import { afterAll, assert, describe, expect, it } from "@effect/vitest"
import { until } from "@spark-etl/testing"
import { Duration, Effect, Exit, Option, Scope } from "effect"
import { TestClock } from "effect/testing"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import type * as Event from "../src/Event.js"
import * as Failure from "../src/Failure.js"
import * as Ledger from "../src/Ledger.js"
import { node, tempDirs } from "./support.js"

const dirs = tempDirs("core-ledger-")
afterAll(dirs.removeAll)
const tempDir = dirs.make

const record = (runId: string, overrides: Partial<Ledger.Record> = {}): Ledger.Record => ({
  version: 1,
  runId,
  batch: "daily",
  batchFile: "/batches/daily.yaml",
  parameters: { run_date: "2026-11-26" },
  pid: 4242,
  host: "etl-host-1",
  status: "running",
  startedAt: new Date(0).toISOString(),
  heartbeatAt: new Date(0).toISOString(),
  rules: { load: { state: "pending", attempt: 0 } },
  ...overrides
})

const readJson = (file: string): unknown => JSON.parse(fs.readFileSync(file, "utf8"))

// Waits, in real time, until a condition on the files holds.
const waitUntil = (what: string, check: () => boolean) =>
  until(Effect.sync(check), { what, within: "10 seconds", every: "10 millis" })
const heartbeatOf = (file: string) => (readJson(file) as { heartbeatAt: string }).heartbeatAt

// A stale holder on another host, as a crashed run leaves it.
const staleHolder = (dir: string) => {
  fs.mkdirSync(path.join(dir, "daily"), { recursive: true })
  fs.writeFileSync(path.join(dir, "daily", "old.json"), JSON.stringify(record("old", { host: "elsewhere" })))
  fs.writeFileSync(
    path.join(dir, "daily", "lock"),
    JSON.stringify({ runId: "old", pid: 1, host: "elsewhere" })
  )
}

describe("Ledger", () => {
  it.effect("writes the record atomically, beats, and releases the batch's lock at the end", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const scope = yield* Scope.make()
      const { handle, crashed } = yield* Ledger.open({ dir, record: record("run-1") }).pipe(
        Scope.provide(scope)
      )
      expect(Option.isNone(crashed)).toBe(true)
      expect(handle.file).toBe(path.join(dir, "daily", "run-1.json"))
      expect(readJson(handle.file)).toMatchObject({ runId: "run-1", status: "running", pid: 4242 })
      // The owner, with this acquisition's token and time (FileLock), and the run holding it.
      expect(readJson(path.join(dir, "daily", "lock"))).toEqual({
        runId: "run-1",
        pid: 4242,
        host: "etl-host-1",
        token: expect.stringMatching(/^[0-9a-f-]{36}$/),
        createdAt: new Date(0).toISOString()
      })

      yield* handle.update((r) => ({
        ...r,
        status: "succeeded",
        rules: { load: { state: "succeeded", attempt: 1, durationMs: 12 } },
        outcome: { exitCode: 0 }
      }))
      const back = yield* Ledger.read(handle.file).pipe(Effect.provide(node))
      expect(back.status).toBe("succeeded")
      expect(back.rules.load).toEqual({ state: "succeeded", attempt: 1, durationMs: 12 })

      yield* Scope.close(scope, Exit.void)
      // No lock and no temp file left behind.
      expect(fs.readdirSync(path.join(dir, "daily"))).toEqual(["run-1.json"])
    }).pipe(Effect.provide(node))
  )

  it.live("refreshes the heartbeat while the run lives, and stops when its scope ends", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const start = Date.now()
      const scope = yield* Scope.make()
      const { handle } = yield* Ledger.open({
        dir,
        record: record("run-hb", { heartbeatAt: new Date(start).toISOString() }),
        heartbeat: Duration.millis(50)
      }).pipe(Scope.provide(scope))
      const first = heartbeatOf(handle.file)
      yield* waitUntil("a heartbeat", () => heartbeatOf(handle.file) > first)
      expect(heartbeatOf(handle.file) > first).toBe(true)
      yield* Scope.close(scope, Exit.void)
      const last = heartbeatOf(handle.file)
      // An absence has no condition to wait for: four periods without a beat.
      yield* Effect.sleep(Duration.millis(200))
      expect(heartbeatOf(handle.file)).toBe(last)
    }).pipe(Effect.provide(node))
  )

  it.effect("refuses a second run while the holder is alive and beating", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* Ledger.open({ dir, record: record("run-1"), isAlive: () => true })
      const exit = yield* Effect.exit(
        Ledger.open({ dir, record: record("run-2", { pid: 5151 }), isAlive: () => true })
      )
      const error = Exit.findErrorOption(exit)
      assert(error._tag === "Some" && error.value._tag === "ConfigRejected")
      expect(error.value.code).toBe("BATCH_LOCKED")
      expect(Failure.toExitCode(error.value)).toBe(3)
      expect(error.value.message).toContain(
        "held by run run-1 (pid 4242 on etl-host-1, started 1970-01-01T00:00:00.000Z), alive"
      )
      expect(fs.existsSync(path.join(dir, "daily", "run-2.json"))).toBe(false)
    }).pipe(Effect.scoped, Effect.provide(node))
  )

  it.effect("takes over from a holder whose heartbeat went stale, marking it crashed", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      staleHolder(dir)
      yield* TestClock.setTime(60_000)
      const { crashed } = yield* Ledger.open({ dir, record: record("new") })
      assert(Option.isSome(crashed))
      expect(crashed.value).toMatchObject({
        runId: "old",
        status: "crashed",
        endedAt: new Date(60_000).toISOString()
      })
      expect(readJson(path.join(dir, "daily", "old.json"))).toMatchObject({ status: "crashed" })
      expect(readJson(path.join(dir, "daily", "lock"))).toMatchObject({ runId: "new" })
      const all = yield* Ledger.list(dir, "daily")
      expect(all.map((r) => [r.runId, r.status])).toEqual(
        expect.arrayContaining([
          ["old", "crashed"],
          ["new", "running"]
        ])
      )
    }).pipe(Effect.scoped, Effect.provide(node))
  )

  it.effect("takes over at once from a holder on this host whose process is gone", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* Ledger.open({ dir, record: record("dead") })
          // Leave the lock behind, as a killed process would.
          fs.copyFileSync(path.join(dir, "daily", "lock"), path.join(dir, "lock.keep"))
        })
      )
      fs.copyFileSync(path.join(dir, "lock.keep"), path.join(dir, "daily", "lock"))
      const { crashed } = yield* Ledger.open({ dir, record: record("next"), isAlive: () => false })
      expect(Option.map(crashed, (r) => r.runId)).toEqual(Option.some("dead"))
    }).pipe(Effect.scoped, Effect.provide(node))
  )

  it.effect("fences a stale holder, then reports it, then marks it crashed and takes its lock", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      staleHolder(dir)
      yield* TestClock.setTime(60_000)
      const steps: Array<string> = []
      const status = () => (readJson(path.join(dir, "daily", "old.json")) as { status: string }).status
      const { crashed } = yield* Ledger.open({
        dir,
        record: record("new"),
        fence: (p) => Effect.sync(() => void steps.push(`fence ${p.runId} (${status()})`)),
        report: (p) => Effect.sync(() => void steps.push(`report ${p.runId} (${status()})`))
      })
      expect(steps).toEqual(["fence old (running)", "report old (running)"])
      expect(Option.map(crashed, (r) => r.status)).toEqual(Option.some("crashed"))
      expect(fs.existsSync(path.join(dir, "daily", "lock.reap"))).toBe(false)
    }).pipe(Effect.scoped, Effect.provide(node))
  )

  it.effect("leaves the lock with a stale holder when its fence fails; the next attempt fences again", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      staleHolder(dir)
      yield* TestClock.setTime(60_000)
      const reported: Array<string> = []
      const unreachable = new Failure.EngineUnreachable({
        code: "FENCE_FAILED",
        message: "Spark did not answer"
      })
      const exit = yield* Effect.exit(
        Ledger.open({
          dir,
          record: record("new"),
          fence: () => Effect.fail(unreachable),
          report: (p) => Effect.sync(() => void reported.push(p.runId))
        })
      )
      expect(Exit.findErrorOption(exit)).toEqual(Option.some(unreachable))
      expect(reported).toEqual([])
      expect(readJson(path.join(dir, "daily", "old.json"))).toMatchObject({ status: "running" })
      expect(readJson(path.join(dir, "daily", "lock"))).toMatchObject({ runId: "old" })
      expect(fs.existsSync(path.join(dir, "daily", "new.json"))).toBe(false)
      expect(fs.existsSync(path.join(dir, "daily", "lock.reap"))).toBe(false)

      const { crashed } = yield* Ledger.open({ dir, record: record("again"), fence: () => Effect.void })
      expect(Option.map(crashed, (r) => r.runId)).toEqual(Option.some("old"))
    }).pipe(Effect.scoped, Effect.provide(node))
  )

  it.effect(
    "keeps the operations a failed fence did not see end in the stale record, for the next fence to wait for",
    () =>
      Effect.gen(function* () {
        const dir = tempDir()
        staleHolder(dir)
        yield* TestClock.setTime(60_000)
        const stillRunning = new Failure.EngineUnreachable({
          code: "FENCE_FAILED",
          message: "the server did not show the end of 1 interrupted operation(s) within 10s",
          pendingOperations: ["op-1"]
        })
        const exit = yield* Effect.exit(
          Ledger.open({ dir, record: record("new"), fence: () => Effect.fail(stillRunning) })
        )
        expect(Exit.findErrorOption(exit)).toEqual(Option.some(stillRunning))
        expect(readJson(path.join(dir, "daily", "old.json"))).toMatchObject({
          status: "running",
          pendingOperations: ["op-1"]
        })

        const given: Array<ReadonlyArray<string> | undefined> = []
        const { crashed } = yield* Ledger.open({
          dir,
          record: record("again"),
          fence: (stale) => Effect.sync(() => void given.push(stale.pendingOperations))
        })
        expect(given).toEqual([["op-1"]])
        // Fenced now: nothing left pending in its record.
        expect(Option.map(crashed, (r) => r.pendingOperations)).toEqual(Option.some(undefined))
        expect(readJson(path.join(dir, "daily", "old.json"))).not.toHaveProperty("pendingOperations")
      }).pipe(Effect.scoped, Effect.provide(node))
  )

  it.effect(
    "refuses while another successor is taking a stale holder over, and steps in if that one died",
    () =>
      Effect.gen(function* () {
        const dir = tempDir()
        staleHolder(dir)
        yield* TestClock.setTime(60_000)
        const reaper = (pid: number) =>
          fs.writeFileSync(
            path.join(dir, "daily", "lock.reap"),
            JSON.stringify({ runId: "reaper", pid, host: "etl-host-1" })
          )
        reaper(7777)
        const busy = yield* Ledger.reap({
          dir,
          batch: "daily",
          host: "etl-host-1",
          isAlive: (pid) => pid === 7777
        })
        expect(busy).toMatchObject({ _tag: "Held" })
        expect(busy._tag === "Held" && busy.message).toContain(
          "being taken over from a crashed run by pid 7777"
        )
        expect(readJson(path.join(dir, "daily", "old.json"))).toMatchObject({ status: "running" })

        const done = yield* Ledger.reap({ dir, batch: "daily", host: "etl-host-1", isAlive: () => false })
        expect(done._tag === "Reaped" && Option.map(done.crashed, (r) => r.runId)).toEqual(Option.some("old"))
        expect(fs.existsSync(path.join(dir, "daily", "lock"))).toBe(false)
        expect(fs.existsSync(path.join(dir, "daily", "lock.reap"))).toBe(false)
      }).pipe(Effect.provide(node))
  )

  it.live("lets one of several successors looking at once take over, even after a reaper died", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      staleHolder(dir)
      // A successor killed while taking over left its claim: broken by exactly one of the next.
      const dead = yield* Effect.promise(
        () =>
          new Promise<number>((resolve) => {
            const child = spawn(process.execPath, ["-e", ""])
            child.on("exit", () => resolve(child.pid!))
          })
      )
      fs.writeFileSync(
        path.join(dir, "daily", "lock.reap"),
        JSON.stringify({ runId: "reaper", pid: dead, host: "etl-host-1" })
      )
      const reported: Array<string> = []
      const found = yield* Effect.all(
        Array.from({ length: 4 }, () =>
          Ledger.reap({
            dir,
            batch: "daily",
            host: "etl-host-1",
            report: (p) => Effect.sync(() => void reported.push(p.runId))
          })
        ),
        { concurrency: "unbounded" }
      )
      expect(reported).toEqual(["old"])
      expect(found.filter((f) => f._tag === "Reaped")).toHaveLength(1)
      expect(readJson(path.join(dir, "daily", "old.json"))).toMatchObject({ status: "crashed" })
      expect(fs.readdirSync(path.join(dir, "daily"))).toEqual(["old.json"])
    }).pipe(Effect.provide(node))
  )

  it.effect("treats a fresh lock without its record as a run being born, not a crash", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      fs.mkdirSync(path.join(dir, "daily"))
      fs.writeFileSync(
        path.join(dir, "daily", "lock"),
        JSON.stringify({ runId: "newborn", pid: 1, host: "elsewhere" })
      )
      yield* TestClock.setTime(Date.now())
      const found = yield* Ledger.reap({ dir, batch: "daily", host: "etl-host-1" })
      expect(found).toMatchObject({ _tag: "Held" })
      expect(fs.existsSync(path.join(dir, "daily", "lock"))).toBe(true)
    }).pipe(Effect.provide(node))
  )

  it.effect(
    "never leaves a lock without its content, and takes over an unreadable one once it is stale",
    () =>
      Effect.gen(function* () {
        const dir = tempDir()
        fs.mkdirSync(path.join(dir, "daily"))
        // What a process killed between creating and writing its lock used to leave.
        fs.writeFileSync(path.join(dir, "daily", "lock"), "")
        yield* TestClock.setTime(Date.now())
        const young = yield* Effect.exit(Ledger.open({ dir, record: record("early") }))
        const refusal = Exit.findErrorOption(young)
        assert(refusal._tag === "Some" && refusal.value._tag === "ConfigRejected")
        expect(refusal.value.message).toMatch(/unreadable lock .*younger than 30000 ms/)

        yield* TestClock.setTime(Date.now() + 60_000)
        const { crashed } = yield* Ledger.open({ dir, record: record("late") })
        expect(Option.isNone(crashed)).toBe(true)
        expect(readJson(path.join(dir, "daily", "lock"))).toEqual({
          runId: "late",
          pid: 4242,
          host: "etl-host-1",
          token: expect.any(String),
          createdAt: expect.any(String)
        })
        expect(fs.readdirSync(path.join(dir, "daily")).filter((f) => f.endsWith(".tmp"))).toEqual([])
      }).pipe(Effect.scoped, Effect.provide(node))
  )

  it.effect("finds nothing to do when nobody holds the batch", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      expect(yield* Ledger.reap({ dir, batch: "daily", host: "etl-host-1" })).toEqual({ _tag: "Free" })
    }).pipe(Effect.provide(node))
  )

  it.effect("refuses a record it cannot read, naming the file", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const file = path.join(dir, "bad.json")
      fs.writeFileSync(file, JSON.stringify({ version: 99 }))
      const exit = yield* Effect.exit(Ledger.read(file))
      const error = Exit.findErrorOption(exit)
      assert(error._tag === "Some")
      expect(error.value).toMatchObject({ _tag: "LedgerError", path: file })
    }).pipe(Effect.provide(node))
  )

  it.effect("refuses a run id that could step outside the ledger directory", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const exit = yield* Effect.exit(Ledger.open({ dir, record: record("../../etc/x") }))
      const error = Exit.findErrorOption(exit)
      assert(error._tag === "Some")
      expect(error.value).toMatchObject({
        _tag: "LedgerError",
        message: 'unsafe name for a ledger file: "../../etc/x"'
      })
      expect(fs.readdirSync(dir)).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(node))
  )

  it.live("writes staged changes at the next flush, not at once", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const { handle } = yield* Ledger.open({
        dir,
        record: record("run-st"),
        flushEvery: Duration.millis(300)
      })
      const state = () => (readJson(handle.file) as Ledger.Record).rules.load?.state
      yield* handle.stage((r) => ({ ...r, rules: { load: { state: "running", attempt: 1 } } }))
      expect(state()).toBe("pending")
      expect((yield* handle.current).rules.load?.state).toBe("running")
      yield* waitUntil("the staged change on disk", () => state() === "running")
      expect(state()).toBe("running")
      // An immediate update carries what was staged before it.
      yield* handle.stage((r) => ({ ...r, rules: { load: { state: "succeeded", attempt: 1 } } }))
      yield* handle.update((r) => ({ ...r, status: "succeeded" }))
      expect(readJson(handle.file)).toMatchObject({
        status: "succeeded",
        rules: { load: { state: "succeeded" } }
      })
    }).pipe(Effect.scoped, Effect.provide(node))
  )

  describe("settle", () => {
    // The terminal event a closed run recorded with its outcome.
    const terminal = (runId: string): Event.Event => ({
      id: `event-of-${runId}`,
      type: "batch.failed",
      time: new Date(0).toISOString(),
      batch: "daily",
      runId,
      host: "etl-host-1",
      pid: 4242,
      parameters: { run_date: "2026-11-26" },
      exitCode: 2,
      phase: "execution",
      targetsTouched: true
    })
    // A run that closed (failed) without sending its terminal event nor seeing its engine work stop.
    const unsettled = (runId: string, overrides: Partial<Ledger.Record> = {}) =>
      record(runId, {
        status: "failed",
        terminalEvent: terminal(runId),
        terminalEventSent: false,
        unfenced: true,
        ...overrides
      })
    const put = (dir: string, ...records: ReadonlyArray<Ledger.Record>) => {
      fs.mkdirSync(path.join(dir, "daily"), { recursive: true })
      for (const r of records) fs.writeFileSync(path.join(dir, "daily", `${r.runId}.json`), JSON.stringify(r))
    }
    const fileOf = (dir: string, runId: string) => path.join(dir, "daily", `${runId}.json`)
    const unreachable = new Failure.EngineUnreachable({
      code: "FENCE_FAILED",
      message: "Spark did not answer"
    })

    it.effect(
      "republishes an unsent terminal event, then fences an unfenced run, once; running runs and itself are left alone",
      () =>
        Effect.gen(function* () {
          const dir = tempDir()
          const untouched = [
            unsettled("live", { status: "running" }),
            unsettled("self"),
            record("clean", {
              status: "succeeded",
              terminalEvent: terminal("clean"),
              terminalEventSent: true
            })
          ]
          put(dir, unsettled("old"), ...untouched)
          yield* TestClock.setTime(60_000)
          const steps: Array<string> = []
          const sentOnDisk = (runId: string) =>
            (readJson(fileOf(dir, runId)) as Ledger.Record).terminalEventSent
          const options = {
            dir,
            batch: "daily",
            runId: "self",
            republish: (e: Event.Event) => Effect.sync(() => void steps.push(`republish ${e.id}`)),
            fence: (r: Ledger.Record) =>
              Effect.sync(() => void steps.push(`fence ${r.runId} (event sent: ${sentOnDisk(r.runId)})`))
          }

          const settled = yield* Ledger.settle(options)
          // The same event (same id), marked sent before the fence: a fence that fails does not resend it.
          expect(steps).toEqual(["republish event-of-old", "fence old (event sent: true)"])
          expect(settled.republished.map((r) => r.runId)).toEqual(["old"])
          expect(settled.fenced.map((r) => r.runId)).toEqual(["old"])
          expect(readJson(fileOf(dir, "old"))).toMatchObject({
            status: "failed",
            terminalEvent: terminal("old"),
            terminalEventSent: true,
            unfenced: false,
            fencedAt: new Date(60_000).toISOString(),
            fencedBy: "self"
          })
          for (const r of untouched) expect(readJson(fileOf(dir, r.runId))).toEqual(r)

          // Idempotent: nothing is left to do.
          expect(yield* Ledger.settle(options)).toEqual({ fenced: [], republished: [] })
          expect(steps).toHaveLength(2)
        }).pipe(Effect.provide(node))
    )

    it.effect(
      "fails with the fence's EngineUnreachable and leaves the run unfenced for the next attempt",
      () =>
        Effect.gen(function* () {
          const dir = tempDir()
          put(dir, unsettled("old", { terminalEventSent: true }))
          const exit = yield* Effect.exit(
            Ledger.settle({ dir, batch: "daily", runId: "new", fence: () => Effect.fail(unreachable) })
          )
          expect(Exit.findErrorOption(exit)).toEqual(Option.some(unreachable))
          const after = readJson(fileOf(dir, "old")) as Ledger.Record
          expect(after.unfenced).toBe(true)
          expect(after.fencedAt).toBeUndefined()

          const again = yield* Ledger.settle({ dir, batch: "daily", runId: "next", fence: () => Effect.void })
          expect(again.fenced.map((r) => [r.runId, r.fencedBy])).toEqual([["old", "next"]])
        }).pipe(Effect.provide(node))
    )

    it.effect("keeps the operations a failed fence did not see end, for the next fence to wait for", () =>
      Effect.gen(function* () {
        const dir = tempDir()
        put(dir, unsettled("old", { terminalEventSent: true, pendingOperations: ["op-0"] }))
        const stillRunning = new Failure.EngineUnreachable({
          code: "FENCE_FAILED",
          message: "the server did not show the end of 1 interrupted operation(s) within 10s",
          pendingOperations: ["op-1"]
        })
        const given: Array<ReadonlyArray<string> | undefined> = []
        const exit = yield* Effect.exit(
          Ledger.settle({
            dir,
            batch: "daily",
            runId: "new",
            fence: (r) =>
              Effect.andThen(
                Effect.sync(() => void given.push(r.pendingOperations)),
                Effect.fail(stillRunning)
              )
          })
        )
        expect(Exit.findErrorOption(exit)).toEqual(Option.some(stillRunning))
        // What this fence left replaces what it was given (it waited for that too).
        expect(readJson(fileOf(dir, "old"))).toMatchObject({ unfenced: true, pendingOperations: ["op-1"] })

        yield* Ledger.settle({
          dir,
          batch: "daily",
          runId: "next",
          fence: (r) => Effect.sync(() => void given.push(r.pendingOperations))
        })
        expect(given).toEqual([["op-0"], ["op-1"]])
        expect(readJson(fileOf(dir, "old"))).toMatchObject({ unfenced: false, fencedBy: "next" })
        expect(readJson(fileOf(dir, "old"))).not.toHaveProperty("pendingOperations")
      }).pipe(Effect.provide(node))
    )

    it.effect("skips a record it cannot read (a newer version's) instead of blocking every run", () =>
      Effect.gen(function* () {
        const dir = tempDir()
        put(dir, unsettled("old"))
        fs.writeFileSync(fileOf(dir, "newer"), JSON.stringify({ ...record("newer"), version: 2 }))
        const settled = yield* Ledger.settle({ dir, batch: "daily", runId: "new", fence: () => Effect.void })
        expect(settled.fenced.map((r) => r.runId)).toEqual(["old"])
        expect(JSON.parse(fs.readFileSync(fileOf(dir, "newer"), "utf8"))).toMatchObject({ version: 2 })
      }).pipe(Effect.provide(node))
    )

    it.effect("is done by open once the batch's lock is taken, before the run's record is written", () =>
      Effect.gen(function* () {
        const dir = tempDir()
        put(dir, unsettled("old"))
        const seen: Array<string> = []
        const look = (step: string) =>
          Effect.sync(() => {
            const lock = readJson(path.join(dir, "daily", "lock")) as { runId: string }
            seen.push(`${step}: lock of ${lock.runId}, record ${fs.existsSync(fileOf(dir, "new"))}`)
          })
        const { settled } = yield* Ledger.open({
          dir,
          record: record("new"),
          republish: () => look("republish"),
          fence: () => look("fence")
        })
        expect(seen).toEqual(["republish: lock of new, record false", "fence: lock of new, record false"])
        expect(settled.republished.map((r) => r.runId)).toEqual(["old"])
        expect(settled.fenced.map((r) => r.runId)).toEqual(["old"])
      }).pipe(Effect.scoped, Effect.provide(node))
    )

    it.effect("fails open, leaving no lock and no record, when an unfenced run cannot be fenced", () =>
      Effect.gen(function* () {
        const dir = tempDir()
        put(dir, unsettled("old", { terminalEventSent: true }))
        const exit = yield* Effect.exit(
          Effect.scoped(Ledger.open({ dir, record: record("new"), fence: () => Effect.fail(unreachable) }))
        )
        expect(Exit.findErrorOption(exit)).toEqual(Option.some(unreachable))
        expect(fs.readdirSync(path.join(dir, "daily"))).toEqual(["old.json"])
        expect(readJson(fileOf(dir, "old"))).toMatchObject({ unfenced: true })
      }).pipe(Effect.provide(node))
    )
  })
})
