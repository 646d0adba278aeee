import { afterAll, assert, describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Event from "../src/Event.js"
import * as Failure from "../src/Failure.js"
import * as Ledger from "../src/Ledger.js"
import * as Plugin from "../src/Plugin.js"
import * as Run from "../src/Run.js"
import * as TargetStore from "../src/TargetStore.js"
import * as Testing from "../src/testing.js"
import { node, tempDirs } from "./support.js"

const dirs = tempDirs("core-run-")
afterAll(dirs.removeAll)

// A batch file in a fresh directory (with its target root `out`); rules use the scripted
// runner and, unless told otherwise, the in-memory store.
const batchFile = (rules: string, extra = "", store = "memory") => {
  const dir = dirs.make()
  fs.mkdirSync(path.join(dir, "out"))
  const file = path.join(dir, "nightly.yaml")
  fs.writeFileSync(
    file,
    `batch: nightly
parameters:
  run_date: { type: date }
targets:
  store: ${store}
  roots: [out]
${extra}
rules:
${rules}`
  )
  return { dir, file, ledgerDir: path.join(dir, "ledger") }
}

interface SetupOptions {
  readonly failCleanOf?: ReadonlyArray<string>
  /**
   * Gives the runners (kinds `scripted` and `other`) a `prepare` and a `preflight`; by rule id,
   * how its preflight ends (analysed by default, after the effect when one is given).
   */
  readonly preflight?: Readonly<
    Record<
      string,
      | "sql"
      | "not_analysed"
      | Effect.Effect<void>
      | { readonly after: Effect.Effect<void>; readonly then: "sql" | "not_analysed" }
    >
  >
  /** The rules whose preflight says it is isolated (may go alongside others). */
  readonly isolated?: ReadonlyArray<string>
  /** `prepare` fails: the engine cannot be reached. */
  readonly prepareFails?: boolean
  /** Clean real directories under the batch's `out` (the filesystem store). */
  readonly filesystem?: boolean
  /** What a rule of kind `stubborn` does, uninterruptibly (an engine deaf to interrupts). */
  readonly stubborn?: Effect.Effect<void>
  /** Sees each event as it is published (not spooled), before the sink keeps it. */
  readonly onPublish?: (event: Event.Event) => void
  /** Each publish waits for this first (a slow Kafka). */
  readonly publishAfter?: Effect.Effect<void>
  /** The sink also takes events that came together in one call (`publishAll`). */
  readonly publishAll?: boolean
  /** Runs after each rule's runner succeeds. */
  readonly afterRun?: (ruleId: string) => Effect.Effect<void>
}

// The run's world: runners, store and sink that say what was done to them, in `steps`
// (prepare, preflight, clean, run), `spooled` (events spooled rather than published) and
// `prepared` (the engine settings each `prepare` was given).
const setup = (options: SetupOptions = {}) => {
  const steps: Array<string> = []
  const step = (text: string) => Effect.sync(() => void steps.push(text))
  const spooled: Array<Event.EventType> = []
  const prepared: Array<Readonly<Record<string, string>>> = []
  // Each rule preflight asked whether it is isolated, with the rule ids it was given.
  const isolatedAsked: Array<readonly [string, ReadonlyArray<string>]> = []
  const sink = Event.memory()
  const store = TargetStore.memory(options.failCleanOf ? { failOn: options.failCleanOf } : {})
  const scripted = Testing.scripted()
  const { preflight } = options
  const probe = (runner: Plugin.Runner<Testing.ScriptedOptions>): Plugin.Runner<Testing.ScriptedOptions> => ({
    ...runner,
    run: (ctx) =>
      Effect.andThen(step(`run ${ctx.rule.id}`), runner.run(ctx)).pipe(
        Effect.tap(() => options.afterRun?.(ctx.rule.id) ?? Effect.void)
      ),
    ...(preflight === undefined
      ? {}
      : {
          prepare: ({ batch }) =>
            Effect.andThen(
              step(`prepare ${runner.kind}`),
              options.prepareFails
                ? Effect.fail(new Failure.EngineUnreachable({ message: "Spark Connect did not answer" }))
                : Effect.sync(() => void prepared.push(batch.settings))
            ),
          preflightIsolated: ({ rule }, ruleIds) =>
            Effect.sync(() => {
              isolatedAsked.push([rule.id, ruleIds])
              return options.isolated?.includes(rule.id) ?? false
            }),
          preflight: ({ rule }) => {
            const given = preflight[rule.id]
            const how = typeof given === "object" && "then" in given ? given.then : given
            const before = typeof given === "object" && "then" in given ? given.after : Effect.void
            return Effect.andThen(
              Effect.andThen(step(`preflight ${rule.id}`), before),
              how === "sql"
                ? Effect.fail(
                    new Failure.SqlError({
                      message: "table or view not found: sales.raw",
                      code: "TABLE_OR_VIEW_NOT_FOUND",
                      sqlState: "42P01",
                      ruleId: rule.id
                    })
                  )
                : how === "not_analysed"
                  ? Effect.succeed(Plugin.notAnalysed("a DDL statement"))
                  : Effect.as(how ?? Effect.void, Plugin.analysed)
            )
          }
        })
  })
  const stubborn = Plugin.make({
    kind: "stubborn",
    options: Schema.Struct({}),
    run: ({ rule }) =>
      Effect.andThen(step(`run ${rule.id}`), Effect.uninterruptible(options.stubborn ?? Effect.void))
  })
  const storeLayer = Layer.effect(
    TargetStore.TargetStore,
    Effect.map(TargetStore.TargetStore, (inner) =>
      TargetStore.TargetStore.of({
        ...inner,
        clean: (resolved, target) =>
          Effect.andThen(step(`clean ${target.declared}`), inner.clean(resolved, target))
      })
    )
  ).pipe(
    Layer.provide(options.filesystem ? TargetStore.layerFileSystem.pipe(Layer.provide(node)) : store.layer)
  )
  // The events of each call of the sink's publish or publishAll.
  const sends: Array<ReadonlyArray<string>> = []
  const sinkLayer = Layer.effect(
    Event.EventSink,
    Effect.map(Event.EventSink, (inner) => {
      const keep = (event: Event.Event) =>
        Effect.andThen(
          Effect.sync(() => options.onPublish?.(event)),
          inner.publish(event)
        )
      return Event.EventSink.of({
        ...inner,
        publish: (event) =>
          Effect.andThen(
            options.publishAfter ?? Effect.void,
            Effect.andThen(
              Effect.sync(() => void sends.push(types([event]))),
              keep(event)
            )
          ),
        ...(options.publishAll
          ? {
              publishAll: (events: ReadonlyArray<Event.Event>) =>
                Effect.andThen(
                  options.publishAfter ?? Effect.void,
                  Effect.andThen(
                    Effect.sync(() => void sends.push(types(events))),
                    Effect.forEach(events, keep, { discard: true })
                  )
                )
            }
          : {}),
        spool: (event) =>
          Effect.andThen(
            Effect.sync(() => void spooled.push(event.type)),
            inner.spool(event)
          )
      })
    })
  ).pipe(Layer.provide(sink.layer))
  const runners = [probe(scripted.runner), probe(Testing.scripted("other").runner)]
  const layer = Layer.mergeAll(
    Plugin.layer([...runners.map((r) => Plugin.load(r)), Plugin.load(stubborn)]),
    storeLayer,
    sinkLayer,
    node
  )
  return {
    events: sink.events,
    sends,
    cleaned: store.cleaned,
    log: scripted.log,
    nextStart: scripted.nextStart,
    steps,
    spooled,
    prepared,
    isolatedAsked,
    layer
  }
}

// A batch of one rule, `long`, that runs for 10 s unless interrupted.
const longBatch = () => batchFile(`  - { id: long, kind: scripted, options: { ms: 10000 } }`)

// Starts a run in the world `t` and returns its fiber once rule `long` runs; a rule that never
// starts fails the test here.
const whileLongRuns = (t: ReturnType<typeof setup>, options: Run.Options) =>
  Effect.gen(function* () {
    const long = yield* t.nextStart("long")
    const fiber = yield* Run.run(options).pipe(Effect.provide(t.layer), Effect.forkChild)
    yield* long.pipe(Effect.timeout("10 seconds"))
    return fiber
  })

const recordOf = (ledgerDir: string, runId: string) =>
  Ledger.read(path.join(ledgerDir, "nightly", `${runId}.json`)).pipe(Effect.provide(node))

const sigterm = new Failure.Interrupted({ message: "SIGTERM received", signal: "SIGTERM" })

// Exactly one of these ends every run.
const terminalTypes: ReadonlySet<Event.EventType> = new Set([
  "batch.succeeded",
  "batch.failed",
  "batch.aborted",
  "batch.crashed"
])

const types = (events: ReadonlyArray<Event.Event>) =>
  events.map((e) => (e.ruleId ? `${e.type} ${e.ruleId}` : e.type))
const decodeEvent = Schema.decodeUnknownSync(Event.Event)

const rules3 = `  - { id: extract, kind: scripted, target: out/extract, options: { ms: 5 } }
  - { id: transform, kind: scripted, depends_on: [extract], target: out/transform, options: { ms: 5 } }
  - { id: publish, kind: scripted, depends_on: [transform], options: { ms: 5 } }`

// After a stop, the events not yet sent (the interrupted rule's and the terminal one at least)
// are spooled, in order: the tail of what the run emitted.
const expectSpooledAfterStop = (t: {
  events: ReadonlyArray<Event.Event>
  spooled: ReadonlyArray<string>
}) => {
  expect(t.spooled.slice(-2)).toEqual(["rule.interrupted", "batch.aborted"])
  expect(t.events.slice(t.events.length - t.spooled.length).map((e) => e.type)).toEqual(t.spooled)
}

// The long batch, stopped by `signal` once its rule runs.
const stopLongRun = (t: ReturnType<typeof setup>, signal: "SIGINT" | "SIGTERM") =>
  Effect.gen(function* () {
    const { file, ledgerDir } = longBatch()
    const stop = yield* Deferred.make<Failure.Interrupted>()
    const fiber = yield* whileLongRuns(t, {
      batchFile: file,
      ledgerDir,
      params: { run_date: "2026-11-26" },
      stop: Deferred.await(stop)
    })
    yield* Deferred.succeed(stop, new Failure.Interrupted({ message: `${signal} received`, signal }))
    return { ledgerDir, outcome: yield* Fiber.join(fiber), t }
  })

// The events of rules3's successful run, in order.
const rules3Succeeded = [
  "batch.started",
  "rule.started extract",
  "rule.succeeded extract",
  "rule.started transform",
  "rule.succeeded transform",
  "rule.started publish",
  "rule.succeeded publish",
  "batch.succeeded"
]

// A predecessor that died mid-run on another host: its record still running, its lock in place.
// With `overrides` and no `lock`, an earlier run in whatever state they say.
const crashedPredecessor = (
  ledgerDir: string,
  file: string,
  overrides: Partial<Ledger.Record> = {},
  lock = true
): string => {
  const batchDir = path.join(ledgerDir, "nightly")
  fs.mkdirSync(batchDir, { recursive: true })
  const old: Ledger.Record = {
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
    rules: { a: { state: "running", attempt: 1 } },
    ...overrides
  }
  fs.writeFileSync(path.join(batchDir, `${old.runId}.json`), JSON.stringify(old))
  if (lock) {
    fs.writeFileSync(
      path.join(batchDir, "lock"),
      JSON.stringify({ runId: old.runId, pid: 999999, host: "other-host" })
    )
  }
  return batchDir
}

// rules3 succeeding with a Kafka that acknowledges nothing until the last rule has run: a rule
// waiting for its rule.started to be acknowledged would never get there.
const untilLastRuleRan = (runId: string, options: SetupOptions = {}) =>
  Effect.gen(function* () {
    const { file, ledgerDir } = batchFile(rules3)
    const lastRan = yield* Deferred.make<void>()
    const t = setup({
      ...options,
      publishAfter: Deferred.await(lastRan),
      afterRun: (id) => (id === "publish" ? Deferred.succeed(lastRan, undefined) : Effect.void)
    })
    const outcome = yield* Run.run({
      batchFile: file,
      ledgerDir,
      params: { run_date: "2026-11-26" },
      runId
    }).pipe(Effect.provide(t.layer), Effect.timeout("20 seconds"))
    expect(outcome).toMatchObject({ status: "succeeded", exitCode: 0 })
    expect(types(t.events)).toEqual(rules3Succeeded)
    return t
  })

describe("Run", () => {
  it.live(
    "rules do not wait for their events to be acknowledged; the events still leave in order, the terminal one last",
    () =>
      Effect.gen(function* () {
        const t = yield* untilLastRuleRan("run-slow-kafka")
        // Each event is stamped when it happened, not when Kafka took it.
        const started = t.events.find((e) => e.type === "rule.started" && e.ruleId === "extract")!
        const ended = t.events.find((e) => e.type === "rule.succeeded" && e.ruleId === "publish")!
        expect(Date.parse(started.time)).toBeLessThanOrEqual(Date.parse(ended.time))
      })
  )

  it.live(
    "events that queued up behind a slow publish go to the sink together, in their order, when it takes several",
    () =>
      Effect.gen(function* () {
        const t = yield* untilLastRuleRan("run-grouped", { publishAll: true })
        expect(t.sends.flat()).toEqual(rules3Succeeded)
        // The first send took what had come before it; it waited until the last rule ran, so
        // the next took all that came meanwhile, and a third at most the last rule's end, which
        // may come after it. The close then publishes the terminal event alone.
        expect(t.sends.length).toBeLessThanOrEqual(4)
        expect(t.sends.some((events) => events.length > 1)).toBe(true)
      })
  )

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
      expect(types(t.events)).toEqual(rules3Succeeded)
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
      // The sibling stopped because bad_sql failed: not a failure of its own, so one failed
      // batch shows one rule.failed.
      expect(t.events.filter((e) => e.type === "rule.failed").map((e) => e.ruleId)).toEqual(["bad_sql"])
      const interrupted = t.events.find((e) => e.type === "rule.interrupted")
      expect(interrupted).toMatchObject({ ruleId: "slow", ruleKind: "scripted", causedBy: "bad_sql" })
      expect(interrupted?.failure).toBeUndefined()
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
      expect(record).toMatchObject({
        status: "failed",
        phase: "cleanup",
        rules: {
          extract: { state: "not_run" },
          transform: { state: "failed", error: { code: "TARGET_CLEANUP_FAILED" } },
          publish: { state: "not_run" }
        }
      })
    })
  )

  it.live("stops on a signal: in-flight rule interrupted, batch.aborted, exit 130", () =>
    Effect.gen(function* () {
      const { ledgerDir, outcome, t } = yield* stopLongRun(setup(), "SIGINT")
      expect(outcome).toMatchObject({ status: "aborted", exitCode: 130 })
      expect(t.log.events).toContainEqual({ rule: "long", event: "interrupted" })
      expect(t.events.at(-1)).toMatchObject({ type: "batch.aborted", exitCode: 130 })
      expect(types(t.events)).toEqual([
        "batch.started",
        "rule.started long",
        "rule.interrupted long",
        "batch.aborted"
      ])
      expect(t.events.find((e) => e.type === "rule.interrupted")?.causedBy).toBe("signal:SIGINT")
      // The process has seconds left: what was not sent when the stop came is spooled, in order.
      expectSpooledAfterStop(t)
      const [record] = yield* Ledger.list(ledgerDir, "nightly").pipe(Effect.provide(node))
      expect(record?.status).toBe("aborted")
    })
  )

  it.live(
    "a publish still waiting for Kafka when the stop comes is cut short: the run closes, the rest spooled",
    () =>
      Effect.gen(function* () {
        // Kafka never answers: every publish hangs until it is cut short.
        const { outcome, t } = yield* stopLongRun(setup({ publishAfter: Effect.never }), "SIGTERM").pipe(
          Effect.timeout("10 seconds")
        )
        expect(outcome).toMatchObject({ status: "aborted", exitCode: 143 })
        expect(t.spooled.slice(-2)).toEqual(["rule.interrupted", "batch.aborted"])
      })
  )

  it.live("refuses to start while another live run holds the batch (exit 3)", () =>
    Effect.gen(function* () {
      const { file, ledgerDir } = longBatch()
      const fiber = yield* whileLongRuns(setup(), {
        batchFile: file,
        ledgerDir,
        params: { run_date: "2026-11-26" }
      })
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
      const { file, ledgerDir } = longBatch()
      const t = setup()
      const fiber = yield* whileLongRuns(t, {
        batchFile: file,
        ledgerDir,
        params: { run_date: "2026-11-26" }
      })
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
      const dir = dirs.make()
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

  it.live(
    "a store's verify runs at preflight: its failure ends the batch there, nothing cleaned, targets untouched",
    () =>
      Effect.gen(function* () {
        const dir = dirs.make()
        const file = path.join(dir, "paths.yaml")
        fs.writeFileSync(
          file,
          `batch: paths
targets: { store: cluster_paths, roots: [hdfs_root] }
rules:
  - { id: a, kind: with_store, target: hdfs_root.daily }
`
        )
        const paths = TargetStore.memory({ name: "cluster_paths" })
        const verified: Array<ReadonlyArray<string>> = []
        const scripted = Testing.scripted("with_store")
        const runner: Plugin.Runner<Testing.ScriptedOptions> = {
          ...scripted.runner,
          targetStore: Effect.map(Effect.provide(TargetStore.TargetStore, paths.layer), (store) => ({
            ...store,
            verify: (resolved: TargetStore.Resolved) =>
              Effect.andThen(
                Effect.sync(() => void verified.push(resolved.targets.map((t) => t.location))),
                Effect.fail(
                  new Failure.TargetError({
                    code: "TARGET_ROOT_MISSING",
                    message: "root hdfs_root is missing"
                  })
                )
              )
          }))
        }
        const sink = Event.memory()
        const outcome = yield* Run.run({ batchFile: file, ledgerDir: path.join(dir, "ledger") }).pipe(
          Effect.provide(
            Layer.mergeAll(Plugin.layer([Plugin.load(runner)]), TargetStore.memory().layer, sink.layer, node)
          )
        )
        expect(outcome).toMatchObject({
          status: "failed",
          exitCode: 1,
          phase: "preflight",
          targetsTouched: false
        })
        expect(verified).toEqual([["hdfs_root.daily"]])
        expect(paths.cleaned).toEqual([])
        expect(types(sink.events)).toEqual(["batch.failed"])
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

  describe("preflight", () => {
    const params = { run_date: "2026-11-26" }
    // Counts the calls of `fenceSelf`, which answers that the engine did not confirm.
    const unconfirmedFence = () => {
      const calls = { count: 0 }
      return {
        calls,
        fenceSelf: Effect.sync(
          (): Run.SelfFence => (calls.count++, { confirmed: false, pendingOperations: [] })
        )
      }
    }

    it.live("fails before any target is touched when a rule does not analyse: exit 1, one batch.failed", () =>
      Effect.gen(function* () {
        const { dir, file, ledgerDir } = batchFile(rules3, "", "filesystem")
        const sentinel = path.join(dir, "out", "extract", "yesterday.parquet")
        fs.mkdirSync(path.dirname(sentinel))
        fs.writeFileSync(sentinel, "yesterday's output")
        const t = setup({ filesystem: true, preflight: { publish: "sql" } })
        const self = unconfirmedFence()
        const outcome = yield* Run.run({
          batchFile: file,
          ledgerDir,
          params,
          runId: "run-pf",
          fenceSelf: self.fenceSelf
        }).pipe(Effect.provide(t.layer))
        expect(outcome).toMatchObject({
          status: "failed",
          exitCode: 1,
          phase: "preflight",
          targetsTouched: false,
          unfenced: false,
          failure: { _tag: "SqlError", code: "TABLE_OR_VIEW_NOT_FOUND", ruleId: "publish" }
        })
        expect(t.steps).toEqual([
          "prepare scripted",
          "preflight extract",
          "preflight transform",
          "preflight publish"
        ])
        expect(fs.readFileSync(sentinel, "utf8")).toBe("yesterday's output")
        expect(t.log.events).toEqual([])
        expect(types(t.events)).toEqual(["batch.failed publish"])
        expect(t.events[0]).toMatchObject({
          exitCode: 1,
          phase: "preflight",
          targetsTouched: false,
          failure: { category: "capturable", code: "TABLE_OR_VIEW_NOT_FOUND", sqlState: "42P01" }
        })
        // Nothing ran on the engine: there is nothing of this run to fence.
        expect(self.calls.count).toBe(0)
        const record = yield* recordOf(ledgerDir, "run-pf")
        expect(record).toMatchObject({
          status: "failed",
          phase: "preflight",
          outcome: { exitCode: 1, ruleId: "publish" },
          rules: {
            extract: { state: "not_run" },
            transform: { state: "not_run" },
            publish: { state: "failed", error: { code: "TABLE_OR_VIEW_NOT_FOUND" } }
          }
        })
        expect(record.unfenced).toBeUndefined()
      })
    )

    it.live(
      "fails as a system failure (exit 2), analysing nothing, when the engine session cannot be prepared",
      () =>
        Effect.gen(function* () {
          const { file, ledgerDir } = batchFile(rules3)
          const t = setup({ preflight: {}, prepareFails: true })
          const outcome = yield* Run.run({ batchFile: file, ledgerDir, params }).pipe(Effect.provide(t.layer))
          expect(outcome).toMatchObject({
            status: "failed",
            exitCode: 2,
            phase: "preflight",
            targetsTouched: false,
            failure: { _tag: "EngineUnreachable" }
          })
          expect(t.steps).toEqual(["prepare scripted"])
          expect(t.cleaned).toEqual([])
          expect(types(t.events)).toEqual(["batch.failed"])
          expect(t.events[0]).toMatchObject({
            phase: "preflight",
            targetsTouched: false,
            failure: { category: "system", code: "ENGINE_UNREACHABLE" }
          })
        })
    )

    it.live("prepares each runner kind once, analyses every rule once in dependency order, then cleans", () =>
      Effect.gen(function* () {
        // Declared against the grain of the data flow, over two kinds.
        const { file, ledgerDir } = batchFile(`  - { id: load, kind: other, depends_on: [transform] }
  - { id: transform, kind: scripted, depends_on: [extract], target: out/transform }
  - { id: extract, kind: other, target: out/extract }
  - { id: audit, kind: scripted, depends_on: [extract] }`)
        const t = setup({ preflight: {} })
        const outcome = yield* Run.run({ batchFile: file, ledgerDir, params }).pipe(Effect.provide(t.layer))
        expect(outcome).toMatchObject({ status: "succeeded", exitCode: 0, targetsTouched: true })
        expect(outcome.notAnalysed).toBeUndefined()
        const preflighted = t.steps.filter((s) => s.startsWith("preflight ")).map((s) => s.slice(10))
        expect([...preflighted].sort()).toEqual(["audit", "extract", "load", "transform"])
        const at = (id: string) => preflighted.indexOf(id)
        expect(at("extract")).toBeLessThan(at("transform"))
        expect(at("extract")).toBeLessThan(at("audit"))
        expect(at("transform")).toBeLessThan(at("load"))
        expect(t.steps.slice(0, 2).sort()).toEqual(["prepare other", "prepare scripted"])
        // Every clean after the last preflight, every run after the last clean.
        expect(t.steps.slice(6, 8).sort()).toEqual(["clean out/extract", "clean out/transform"])
        expect(t.steps.slice(8).map((s) => s.split(" ")[0])).toEqual(["run", "run", "run", "run"])
      })
    )

    it.live("does not analyse a rule downstream of one it cannot analyse, and still runs the batch", () =>
      Effect.gen(function* () {
        const { file, ledgerDir } = batchFile(`  - { id: ddl, kind: scripted }
  - { id: uses_ddl, kind: scripted, depends_on: [ddl], target: out/uses_ddl }
  - { id: sibling, kind: other }`)
        const t = setup({ preflight: { ddl: "not_analysed" } })
        const outcome = yield* Run.run({ batchFile: file, ledgerDir, params }).pipe(Effect.provide(t.layer))
        expect(outcome).toMatchObject({ status: "succeeded", exitCode: 0 })
        expect(outcome.notAnalysed).toEqual([
          { ruleId: "ddl", reason: "a DDL statement" },
          { ruleId: "uses_ddl", reason: "it depends on ddl, which was not analysed" }
        ])
        expect(t.steps.filter((s) => s.startsWith("preflight ")).sort()).toEqual([
          "preflight ddl",
          "preflight sibling"
        ])
        expect(t.steps.filter((s) => s.startsWith("run ")).sort()).toEqual([
          "run ddl",
          "run sibling",
          "run uses_ddl"
        ])
      })
    )

    it.live("counts the rules of a runner without preflight, and their downstream, as not analysed", () =>
      Effect.gen(function* () {
        const { file, ledgerDir } = batchFile(rules3)
        const t = setup()
        const outcome = yield* Run.run({ batchFile: file, ledgerDir, params }).pipe(Effect.provide(t.layer))
        expect(outcome.status).toBe("succeeded")
        expect(outcome.notAnalysed).toEqual([
          { ruleId: "extract", reason: 'rule kind "scripted" has no preflight' },
          { ruleId: "transform", reason: "it depends on extract, which was not analysed" },
          { ruleId: "publish", reason: "it depends on transform, which was not analysed" }
        ])
      })
    )

    it.live("aborts in preflight, touching nothing, when a stop comes while the engine does not answer", () =>
      Effect.gen(function* () {
        const { file, ledgerDir } = batchFile(rules3)
        const stop = yield* Deferred.make<Failure.Interrupted>()
        const t = setup({
          preflight: { extract: Effect.andThen(Deferred.succeed(stop, sigterm), Effect.never) }
        })
        const self = unconfirmedFence()
        const outcome = yield* Run.run({
          batchFile: file,
          ledgerDir,
          params,
          runId: "run-stop",
          stop: Deferred.await(stop),
          fenceSelf: self.fenceSelf
        }).pipe(Effect.provide(t.layer))
        expect(outcome).toMatchObject({
          status: "aborted",
          exitCode: 143,
          phase: "preflight",
          targetsTouched: false,
          unfenced: true
        })
        expect(t.steps).toEqual(["prepare scripted", "preflight extract"])
        expect(t.cleaned).toEqual([])
        // The engine may still be analysing: the run fences its session.
        expect(self.calls.count).toBe(1)
        expect(types(t.events)).toEqual(["batch.aborted"])
        expect(t.spooled).toEqual(["batch.aborted"])
        expect(yield* recordOf(ledgerDir, "run-stop")).toMatchObject({
          status: "aborted",
          phase: "preflight",
          unfenced: true
        })
      })
    )

    describe("isolated rules", () => {
      // Holds each analysis until `count` of them arrived: rules analysed one at a time never get
      // past it (the run then fails on the deadline instead of hanging). `ended` lists who got past.
      const gate = (count: number) => {
        const ended: Array<string> = []
        const all = Deferred.makeUnsafe<void>()
        let arrived = 0
        const at = (id: string) =>
          Effect.gen(function* () {
            if (++arrived === count) Deferred.doneUnsafe(all, Effect.void)
            yield* Deferred.await(all).pipe(Effect.timeout("10 seconds"), Effect.orDie)
            ended.push(id)
          })
        return { at, ended }
      }
      // What a rule's analysis found already ended when it started.
      const seen = (gated: ReturnType<typeof gate>, into: Array<string>) =>
        Effect.sync(() => void into.push(...[...gated.ended].sort()))

      it.live("analyses isolated rules that do not depend on one another side by side, then the rest", () =>
        Effect.gen(function* () {
          const { file, ledgerDir } = batchFile(`  - { id: a, kind: scripted }
  - { id: b, kind: other }
  - { id: c, kind: scripted }
  - { id: alone, kind: scripted }
  - { id: after_a, kind: scripted, depends_on: [a] }`)
          const gated = gate(3)
          const aloneSaw: Array<string> = []
          const t = setup({
            isolated: ["a", "b", "c", "after_a"],
            preflight: { a: gated.at("a"), b: gated.at("b"), c: gated.at("c"), alone: seen(gated, aloneSaw) }
          })
          const outcome = yield* Run.run({ batchFile: file, ledgerDir, params }).pipe(Effect.provide(t.layer))
          expect(outcome).toMatchObject({ status: "succeeded", exitCode: 0 })
          // a, b and c got past a gate that opens only once all three have started.
          expect([...gated.ended].sort()).toEqual(["a", "b", "c"])
          // `alone` (not isolated) started after all three ended; after_a (isolated) after `alone`,
          // which comes before it in plan order.
          expect(aloneSaw).toEqual(["a", "b", "c"])
          expect(t.steps.filter((s) => s.startsWith("preflight ")).slice(3)).toEqual([
            "preflight alone",
            "preflight after_a"
          ])
          // Each rule was asked, with every rule of the batch.
          expect(t.isolatedAsked.map(([id]) => id)).toEqual(["a", "b", "c", "alone", "after_a"])
          for (const [, ids] of t.isolatedAsked) expect(ids).toEqual(["a", "b", "c", "alone", "after_a"])
        })
      )

      it.live("analyses an isolated rule after the rules of the group it depends on have ended", () =>
        Effect.gen(function* () {
          const { file, ledgerDir } = batchFile(`  - { id: a, kind: scripted }
  - { id: b, kind: scripted }
  - { id: after_a, kind: scripted, depends_on: [a] }`)
          const gated = gate(2)
          const afterSaw: Array<string> = []
          const t = setup({
            isolated: ["a", "b", "after_a"],
            preflight: { a: gated.at("a"), b: gated.at("b"), after_a: seen(gated, afterSaw) }
          })
          const outcome = yield* Run.run({ batchFile: file, ledgerDir, params }).pipe(Effect.provide(t.layer))
          expect(outcome).toMatchObject({ status: "succeeded", exitCode: 0 })
          expect(afterSaw).toEqual(["a", "b"])
        })
      )

      it.live(
        "reports the first failure in plan order among rules analysed side by side, touching nothing",
        () =>
          Effect.gen(function* () {
            const { file, ledgerDir } = batchFile(`  - { id: a, kind: scripted, target: out/a }
  - { id: b, kind: scripted, target: out/b }
  - { id: c, kind: scripted, target: out/c }`)
            const cFailing = Deferred.makeUnsafe<void>()
            const t = setup({
              isolated: ["a", "b", "c"],
              preflight: {
                // b fails only once c is failing: the later rule's failure comes first in time.
                b: {
                  after: Deferred.await(cFailing).pipe(Effect.timeout("10 seconds"), Effect.orDie),
                  then: "sql"
                },
                c: { after: Deferred.succeed(cFailing, undefined), then: "sql" }
              }
            })
            const outcome = yield* Run.run({ batchFile: file, ledgerDir, params }).pipe(
              Effect.provide(t.layer)
            )
            expect(outcome).toMatchObject({
              status: "failed",
              exitCode: 1,
              phase: "preflight",
              targetsTouched: false,
              failure: { _tag: "SqlError", ruleId: "b" }
            })
            expect(t.cleaned).toEqual([])
            expect(types(t.events)).toEqual(["batch.failed b"])
          })
      )

      it.live("counts an isolated rule's 'not analysed' for the rules after its group", () =>
        Effect.gen(function* () {
          const { file, ledgerDir } = batchFile(`  - { id: a, kind: scripted }
  - { id: b, kind: scripted }
  - { id: after_a, kind: scripted, depends_on: [a] }`)
          const t = setup({ isolated: ["a", "b", "after_a"], preflight: { a: "not_analysed" } })
          const outcome = yield* Run.run({ batchFile: file, ledgerDir, params }).pipe(Effect.provide(t.layer))
          expect(outcome).toMatchObject({ status: "succeeded", exitCode: 0 })
          expect(outcome.notAnalysed).toEqual([
            { ruleId: "a", reason: "a DDL statement" },
            { ruleId: "after_a", reason: "it depends on a, which was not analysed" }
          ])
          expect(t.steps.filter((s) => s.startsWith("preflight "))).toEqual(["preflight a", "preflight b"])
        })
      )
    })

    it.live("records the batch's engine settings in the ledger, as given to prepare", () =>
      Effect.gen(function* () {
        const { file, ledgerDir } = batchFile(
          rules3,
          "engine: { settings: { spark.sql.shuffle.partitions: 8, spark.sql.ansi.enabled: true } }"
        )
        const t = setup({ preflight: {} })
        yield* Run.run({ batchFile: file, ledgerDir, params, runId: "run-set" }).pipe(Effect.provide(t.layer))
        const settings = { "spark.sql.shuffle.partitions": "8", "spark.sql.ansi.enabled": "true" }
        expect(t.prepared).toEqual([settings])
        expect((yield* recordOf(ledgerDir, "run-set")).engineSettings).toEqual(settings)
      })
    )
  })

  describe("terminal event", () => {
    const params = { run_date: "2026-11-26" }

    it.live("records the terminal event with the outcome before publishing it, then marks it sent", () =>
      Effect.gen(function* () {
        const { file, ledgerDir } = batchFile(rules3)
        const onDisk = () =>
          JSON.parse(fs.readFileSync(path.join(ledgerDir, "nightly", "run-t.json"), "utf8"))
        const atPublish: Array<unknown> = []
        const t = setup({
          onPublish: (e) => {
            if (terminalTypes.has(e.type)) atPublish.push(onDisk())
          }
        })
        yield* Run.run({ batchFile: file, ledgerDir, params, runId: "run-t" }).pipe(Effect.provide(t.layer))
        const published = t.events.at(-1)!
        expect(published.type).toBe("batch.succeeded")
        expect(atPublish).toEqual([
          expect.objectContaining({
            status: "succeeded",
            outcome: { exitCode: 0 },
            terminalEvent: published,
            terminalEventSent: false
          })
        ])
        expect(yield* recordOf(ledgerDir, "run-t")).toMatchObject({
          terminalEvent: published,
          terminalEventSent: true
        })
      })
    )

    it.live(
      "sends the terminal event an earlier run recorded but did not send, same id, once, before its own",
      () =>
        Effect.gen(function* () {
          const { file, ledgerDir } = batchFile(rules3)
          const recorded: Event.Event = {
            id: "0b9f6a52-5a3c-4c0e-9d0e-4f7b1c2d3e4f",
            type: "batch.failed",
            time: "2026-11-25T03:20:00.000Z",
            batch: "nightly",
            runId: "old-run",
            host: "other-host",
            pid: 999999,
            parameters: { run_date: "2026-11-25" },
            ruleId: "a",
            failure: {
              category: "capturable",
              code: "DIVIDE_BY_ZERO",
              message: "division by zero",
              restartMayHelp: false
            },
            phase: "execution",
            targetsTouched: true,
            exitCode: 1
          }
          // Killed between recording its outcome and sending it: closed, event unsent, lock left.
          crashedPredecessor(ledgerDir, file, {
            status: "failed",
            endedAt: "2026-11-25T03:20:00.000Z",
            rules: { a: { state: "failed", attempt: 1 } },
            outcome: { exitCode: 1, ruleId: "a" },
            terminalEvent: recorded,
            terminalEventSent: false
          })
          const t = setup()
          const outcome = yield* Run.run({ batchFile: file, ledgerDir, params }).pipe(Effect.provide(t.layer))
          expect(outcome.status).toBe("succeeded")
          expect(outcome.crashedPredecessor).toBeUndefined()
          expect(t.events[0]).toEqual(recorded)
          expect(t.events.map((e) => e.type)).not.toContain("batch.crashed")
          expect(types(t.events).slice(0, 2)).toEqual(["batch.failed a", "batch.started"])
          expect(yield* recordOf(ledgerDir, "old-run")).toMatchObject({
            status: "failed",
            terminalEvent: recorded,
            terminalEventSent: true
          })

          const next = setup()
          yield* Run.run({ batchFile: file, ledgerDir, params }).pipe(Effect.provide(next.layer))
          expect(next.events.map((e) => e.id)).not.toContain(recorded.id)
          expect(types(next.events)[0]).toBe("batch.started")
        })
    )
  })

  describe("fencing", () => {
    const params = { run_date: "2026-11-26" }

    it.live(
      "records a run whose engine work was not seen to stop as unfenced; the next run fences it before cleaning",
      () =>
        Effect.gen(function* () {
          const failing = batchFile(`  - { id: a, kind: scripted, target: out/a, options: { fail: sql } }`)
          const first = setup()
          const outcome = yield* Run.run({
            batchFile: failing.file,
            ledgerDir: failing.ledgerDir,
            params,
            runId: "run-1",
            // Its fence interrupted op-1 and did not see it end.
            fenceSelf: Effect.succeed({ confirmed: false, pendingOperations: ["op-1"] })
          }).pipe(Effect.provide(first.layer))
          expect(outcome).toMatchObject({ status: "failed", exitCode: 1, phase: "execution", unfenced: true })
          expect(yield* recordOf(failing.ledgerDir, "run-1")).toMatchObject({
            unfenced: true,
            pendingOperations: ["op-1"]
          })

          // The same batch, fixed, against the same ledger.
          const fixed = batchFile(`  - { id: a, kind: scripted, target: out/a }`)
          const second = setup()
          const fenceSelfCalls = { count: 0 }
          const next = yield* Run.run({
            batchFile: fixed.file,
            ledgerDir: failing.ledgerDir,
            params,
            runId: "run-2",
            fence: (r) =>
              Effect.sync(
                () =>
                  void second.steps.push(
                    `fence ${r.runId} (unfenced: ${r.unfenced}, pending: ${r.pendingOperations?.join()})`
                  )
              ),
            fenceSelf: Effect.sync(
              (): Run.SelfFence => (fenceSelfCalls.count++, { confirmed: false, pendingOperations: [] })
            )
          }).pipe(Effect.provide(second.layer))
          expect(next).toMatchObject({ status: "succeeded", unfenced: false })
          // The fence is given what the run's own fence left, to wait for.
          expect(second.steps).toEqual([
            "fence run-1 (unfenced: true, pending: op-1)",
            "clean out/a",
            "run a"
          ])
          // A clean finish leaves nothing to fence.
          expect(fenceSelfCalls.count).toBe(0)
          const fenced = yield* recordOf(failing.ledgerDir, "run-1")
          expect(fenced).toMatchObject({ status: "failed", unfenced: false, fencedBy: "run-2" })
          expect(fenced.fencedAt).toBeDefined()
          expect(fenced.pendingOperations).toBeUndefined()
          expect((yield* recordOf(failing.ledgerDir, "run-2")).unfenced).toBeUndefined()
        })
    )

    it.live(
      "fails the next run (exit 2, FENCE_FAILED) with its targets untouched when an unfenced run cannot be fenced",
      () =>
        Effect.gen(function* () {
          const { file, ledgerDir } = batchFile(rules3)
          crashedPredecessor(
            ledgerDir,
            file,
            {
              status: "aborted",
              endedAt: "2026-11-25T03:20:00.000Z",
              unfenced: true,
              terminalEventSent: true
            },
            false
          )
          const t = setup({ preflight: {} })
          const outcome = yield* Run.run({
            batchFile: file,
            ledgerDir,
            params,
            fence: () =>
              Effect.fail(
                new Failure.EngineUnreachable({ code: "FENCE_FAILED", message: "Spark did not answer" })
              )
          }).pipe(Effect.provide(t.layer))
          expect(outcome).toMatchObject({
            status: "failed",
            exitCode: 2,
            phase: "preflight",
            targetsTouched: false,
            failure: { code: "FENCE_FAILED" }
          })
          expect(t.steps).toEqual([])
          expect(types(t.events)).toEqual(["batch.failed"])
          expect(t.events[0]).toMatchObject({ phase: "preflight", targetsTouched: false })
          expect(yield* recordOf(ledgerDir, "old-run")).toMatchObject({ status: "aborted", unfenced: true })
          expect(fs.existsSync(path.join(ledgerDir, "nightly", "lock"))).toBe(false)
        })
    )

    it.live(
      "after a stop, closes within stopGrace without a rule deaf to the interrupt, recorded unfenced",
      () =>
        Effect.gen(function* () {
          const { file, ledgerDir } = batchFile(`  - { id: deaf, kind: stubborn, target: out/deaf }`)
          const stop = yield* Deferred.make<Failure.Interrupted>()
          const release = yield* Deferred.make<void>()
          // The rule asks for the stop itself once it runs, then ignores the interrupt until released.
          const t = setup({
            stubborn: Effect.andThen(Deferred.succeed(stop, sigterm), Deferred.await(release))
          })
          const outcome = yield* Run.run({
            batchFile: file,
            ledgerDir,
            params,
            runId: "run-deaf",
            stop: Deferred.await(stop),
            stopGrace: Duration.millis(50),
            fenceSelf: Effect.succeed({ confirmed: false, pendingOperations: [] })
          }).pipe(
            Effect.provide(t.layer),
            // Only now does the engine let go (the rule's fiber must end before this test's does).
            Effect.ensuring(Deferred.succeed(release, undefined))
          )
          expect(outcome).toMatchObject({
            status: "aborted",
            exitCode: 143,
            phase: "execution",
            targetsTouched: true,
            unfenced: true
          })
          expect(outcome.report?.unsettled).toEqual(["deaf"])
          expect(types(t.events)).toEqual([
            "batch.started",
            "rule.started deaf",
            "rule.interrupted deaf",
            "batch.aborted"
          ])
          expect(t.events.find((e) => e.type === "rule.interrupted")?.causedBy).toBe("signal:SIGTERM")
          expectSpooledAfterStop(t)
          expect(yield* recordOf(ledgerDir, "run-deaf")).toMatchObject({
            status: "aborted",
            phase: "execution",
            unfenced: true,
            terminalEventSent: true,
            rules: { deaf: { state: "interrupted" } }
          })
        })
    )
  })
})

describe("Run escalation settings", () => {
  const params = { run_date: "2026-11-26" }
  const escalation = `escalation:
  topic: sales.events
  labels: { team: sales, tier: gold }`

  it.live("every event carries the batch's labels and topic, a crashed predecessor's report too", () =>
    Effect.gen(function* () {
      const { file, ledgerDir } = batchFile(rules3, escalation)
      crashedPredecessor(ledgerDir, file)
      const t = setup()
      const outcome = yield* Run.run({ batchFile: file, ledgerDir, params }).pipe(Effect.provide(t.layer))
      expect(outcome.status).toBe("succeeded")
      expect(types(t.events)).toContain("batch.crashed")
      expect(t.events.length).toBeGreaterThan(5)
      for (const event of t.events) {
        expect(event.labels).toEqual({ team: "sales", tier: "gold" })
        expect(event.topic).toBe("sales.events")
      }
      // The recorded terminal event keeps them, for a successor that sends it later.
      const [record] = yield* Ledger.list(ledgerDir, "nightly").pipe(Effect.provide(node))
      expect(record?.terminalEvent).toMatchObject({ topic: "sales.events", labels: { team: "sales" } })
    })
  )

  it.live("the command line's topic wins over the batch file's", () =>
    Effect.gen(function* () {
      const { file, ledgerDir } = batchFile(rules3, escalation)
      const t = setup()
      yield* Run.run({ batchFile: file, ledgerDir, params, topic: "ops.override" }).pipe(
        Effect.provide(t.layer)
      )
      expect(new Set(t.events.map((e) => e.topic))).toEqual(new Set(["ops.override"]))
      expect(t.events.every((e) => e.labels?.["team"] === "sales")).toBe(true)
    })
  )

  it.live("without escalation settings, events carry neither labels nor a topic (the reporter's own)", () =>
    Effect.gen(function* () {
      const { file, ledgerDir } = batchFile(rules3)
      const t = setup()
      yield* Run.run({ batchFile: file, ledgerDir, params }).pipe(Effect.provide(t.layer))
      expect(t.events.length).toBeGreaterThan(0)
      for (const event of t.events) {
        expect(event).not.toHaveProperty("labels")
        expect(event).not.toHaveProperty("topic")
      }
    })
  )

  it.live("a rejected batch's event carries the command line's topic", () =>
    Effect.gen(function* () {
      const { file, ledgerDir } = batchFile(`  - { id: a, kind: scripted, depends_on: [ghost] }`, escalation)
      const t = setup()
      yield* Run.run({ batchFile: file, ledgerDir, topic: "ops.override" }).pipe(Effect.provide(t.layer))
      expect(t.events).toHaveLength(1)
      expect(t.events[0]).toMatchObject({ type: "batch.failed", topic: "ops.override" })
    })
  )

  it.live("the outcome says where undelivered events are, as the sink reports after its flush", () =>
    Effect.gen(function* () {
      const { file, ledgerDir } = batchFile(rules3)
      const t = setup()
      const calls: Array<string> = []
      const undelivered: Event.Undelivered = {
        spooled: 2,
        outbox: "/var/spool/outbox.jsonl",
        onStderr: 1,
        logOnly: 0
      }
      const sink = Layer.effect(
        Event.EventSink,
        Effect.map(Event.EventSink, (inner) =>
          Event.EventSink.of({
            ...inner,
            flush: Effect.sync(() => void calls.push("flush")),
            undelivered: Effect.sync(() => {
              calls.push("undelivered")
              return undelivered
            })
          })
        )
      )
      const outcome = yield* Run.run({ batchFile: file, ledgerDir, params }).pipe(
        Effect.provide(Layer.merge(t.layer, sink.pipe(Layer.provide(t.layer))))
      )
      expect(outcome.undelivered).toEqual(undelivered)
      // Asked around the terminal event (was it lost?), and once more after the final flush.
      expect(calls.slice(-2)).toEqual(["flush", "undelivered"])
    })
  )

  it.live(
    "a terminal event that only reached stderr stays unsent in the ledger; the next run sends it, same id",
    () =>
      Effect.gen(function* () {
        const { file, ledgerDir } = batchFile(rules3)
        const t = setup()
        // A reporter whose outbox broke: the terminal event goes to its last resort.
        let onStderr = 0
        const broken = Layer.effect(
          Event.EventSink,
          Effect.map(Event.EventSink, (inner) =>
            Event.EventSink.of({
              ...inner,
              publish: (event) =>
                event.type.startsWith("batch.") && event.type !== "batch.started"
                  ? Effect.sync(() => void onStderr++)
                  : inner.publish(event),
              undelivered: Effect.sync(() => ({ spooled: 0, onStderr, logOnly: 0 }))
            })
          )
        )
        const first = yield* Run.run({ batchFile: file, ledgerDir, params, runId: "lost-end" }).pipe(
          Effect.provide(Layer.merge(t.layer, broken.pipe(Layer.provide(t.layer))))
        )
        expect(first.undelivered).toMatchObject({ onStderr: 1 })
        const record = yield* recordOf(ledgerDir, "lost-end")
        expect(record).toMatchObject({ status: "succeeded", terminalEventSent: false })
        assert(record.terminalEvent !== undefined)

        const next = setup()
        yield* Run.run({ batchFile: file, ledgerDir, params }).pipe(Effect.provide(next.layer))
        expect(next.events[0]).toEqual(record.terminalEvent)
        expect(yield* recordOf(ledgerDir, "lost-end")).toMatchObject({ terminalEventSent: true })
      })
  )

  it.live("a sink that holds nothing back adds nothing to the outcome", () =>
    Effect.gen(function* () {
      const { file, ledgerDir } = batchFile(rules3)
      const t = setup()
      const outcome = yield* Run.run({ batchFile: file, ledgerDir, params }).pipe(Effect.provide(t.layer))
      expect(outcome).not.toHaveProperty("undelivered")
    })
  )
})
