/**
 * Test support for runner packages (`@spark-etl/core/testing`): the plugin conformance kit and
 * a scripted runner for tests of the executor and of the CLI.
 *
 * The kit is plain Effect, so it does not tie runners to a test framework:
 *
 * ```ts
 * for (const check of Testing.conformance({ runner: sqlRunner, ... })) {
 *   it.live(check.name, () => check.run.pipe(Effect.provide(sparkLayer)))
 * }
 * ```
 *
 * Use `it.live` (real clock): the kit's deadlines are real time.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type * as FileSystem from "effect/FileSystem"
import type * as Path from "effect/Path"
import { ConformanceError } from "./Errors.js"
import * as Failure from "./Failure.js"
import * as Plugin from "./Plugin.js"

/** What the kit needs to exercise a runner. */
export interface Fixture<O, R> {
  readonly runner: Plugin.Runner<O, R>
  /** Options that must decode (and pass the static check). */
  readonly validOptions: ReadonlyArray<unknown>
  /** Options that must be refused, each with at least one issue. */
  readonly invalidOptions: ReadonlyArray<unknown>
  /** Options of a rule that fails in the engine (bad SQL, say). */
  readonly failing: unknown
  /** The category `failing` must fail with; default `capturable`. */
  readonly failingCategory?: Failure.Category
  /** Options of a rule that runs long enough to be interrupted. */
  readonly slow: unknown
  /**
   * The witness that `slow` runs in the engine, not merely that it was started here. The kit
   * runs it just before it starts the rule (to take a baseline, say); the effect it returns
   * completes once the rule's operation runs there, and only then is the rule interrupted.
   * The rule's id is `slow_rule`.
   */
  readonly slowRunning: Effect.Effect<Effect.Effect<void, unknown, R>, unknown, R>
  /** How long `slow` may take to be seen running; default 60 seconds. */
  readonly startWithin?: Duration.Duration
  /** How soon the runner must stop once interrupted; default 10 seconds. */
  readonly stopWithin?: Duration.Duration
  /** Counts what the runner holds open (sessions, streams, handles); must return to its start. */
  readonly openResources?: Effect.Effect<number, never, R>
  /** Directory the static check resolves files from; default the current directory. */
  readonly batchDir?: string
}

/** One named check, ready to run in a test. */
export interface Check<R> {
  readonly name: string
  readonly run: Effect.Effect<void, ConformanceError, R | FileSystem.FileSystem | Path.Path>
}

/** A run context with harmless defaults, for calling a runner directly. */
export const runContext = <O>(
  kind: string,
  options: O,
  overrides: { readonly ruleId?: string; readonly batchDir?: string } = {}
): Plugin.RunContext<O> => ({
  runId: crypto.randomUUID(),
  attempt: 1,
  batch: { name: "conformance", dir: overrides.batchDir ?? process.cwd(), parameters: {}, settings: {} },
  rule: { id: overrides.ruleId ?? "conformance_rule", kind, dependsOn: [] },
  options
})

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** The conformance checks of a runner. */
export const conformance = <O, R>(fixture: Fixture<O, R>): ReadonlyArray<Check<R>> => {
  const { runner } = fixture
  const fail = (check: string) => (message: string) => new ConformanceError({ check, message })
  const batchDir = fixture.batchDir ?? process.cwd()
  const run = (options: O, ruleId: string) =>
    runner.run(runContext(runner.kind, options, { ruleId, batchDir }))
  const runRaw = (raw: unknown, ruleId: string) =>
    Effect.gen(function* () {
      const decoded = Plugin.decodeOptions(runner, raw)
      if (Result.isFailure(decoded)) {
        return yield* fail("fixture")(`fixture options do not decode: ${JSON.stringify(decoded.failure)}`)
      }
      return yield* Effect.exit(run(decoded.success, ruleId))
    })
  // The static check's issues of options that decoded (none for a runner without one).
  const staticIssues = (options: O) =>
    runner.validate
      ? runner.validate({
          batchDir,
          rule: { id: "conformance_rule", kind: runner.kind },
          options,
          parameters: {}
        })
      : Effect.succeed([])
  // Starts `slow` and returns its fiber once the fixture's witness saw it running in the engine.
  const startSlow = (check: (message: string) => ConformanceError) =>
    Effect.gen(function* () {
      const decoded = Plugin.decodeOptions(runner, fixture.slow)
      if (Result.isFailure(decoded)) return yield* check("the slow fixture's options do not decode")
      const witness = (e: unknown) => check(`the witness of the slow fixture failed: ${messageOf(e)}`)
      const running = yield* Effect.mapError(fixture.slowRunning, witness)
      const fiber = yield* run(decoded.success, "slow_rule").pipe(
        Effect.forkChild({ startImmediately: true })
      )
      const startWithin = fixture.startWithin ?? Duration.seconds(60)
      const seen = yield* Effect.raceFirst(
        Effect.as(Effect.mapError(running, witness), "running" as const),
        Effect.as(Fiber.await(fiber), "ended" as const)
      ).pipe(Effect.timeoutOption(startWithin))
      if (Option.isNone(seen)) {
        return yield* check(`the slow fixture was not seen running within ${Duration.format(startWithin)}`)
      }
      if (seen.value === "ended" || fiber.pollUnsafe() !== undefined) {
        return yield* check("the slow fixture ended before it could be interrupted; make it slower")
      }
      return fiber
    })

  const checks: Array<Check<R>> = [
    {
      name: "has a kind name",
      run: /^[a-z][a-z0-9_-]*$/.test(runner.kind)
        ? Effect.void
        : Effect.fail(fail("kind")(`kind "${runner.kind}" must be lower-case letters, digits, '_' or '-'`))
    },
    {
      name: "accepts its valid options",
      run: Effect.forEach(fixture.validOptions, (raw) =>
        Effect.gen(function* () {
          const decoded = Plugin.decodeOptions(runner, raw)
          if (Result.isFailure(decoded)) {
            return yield* fail("valid options")(
              `refused ${JSON.stringify(raw)}: ${JSON.stringify(decoded.failure)}`
            )
          }
          const issues = yield* staticIssues(decoded.success)
          if (issues.length > 0) {
            return yield* fail("valid options")(
              `static check refused ${JSON.stringify(raw)}: ${JSON.stringify(issues)}`
            )
          }
        })
      ).pipe(Effect.asVoid)
    },
    {
      name: "refuses invalid options, each problem with a message",
      run: Effect.forEach(fixture.invalidOptions, (raw) =>
        Effect.gen(function* () {
          const decoded = Plugin.decodeOptions(runner, raw)
          const issues = Result.isFailure(decoded) ? decoded.failure : yield* staticIssues(decoded.success)
          if (issues.length === 0) return yield* fail("invalid options")(`accepted ${JSON.stringify(raw)}`)
          const blank = issues.find((i) => i.message.trim() === "")
          if (blank)
            return yield* fail("invalid options")(`an issue without a message: ${JSON.stringify(blank)}`)
        })
      ).pipe(Effect.asVoid)
    },
    {
      name: "fails with a typed failure of the taxonomy, not a defect",
      run: Effect.gen(function* () {
        const exit = yield* runRaw(fixture.failing, "failing_rule")
        const check = fail("typed failure")
        if (Exit.isSuccess(exit)) return yield* check("the failing fixture succeeded")
        const error = Exit.findErrorOption(exit)
        if (error._tag === "None" || !Failure.isFailure(error.value)) {
          return yield* check(`failed with something outside the taxonomy:\n${String(exit.cause)}`)
        }
        const expected = fixture.failingCategory ?? "capturable"
        if (error.value.category !== expected) {
          return yield* check(`category ${error.value.category}, expected ${expected}`)
        }
        if (error.value.code.trim() === "" || error.value.message.trim() === "") {
          return yield* check("a failure needs a code and a message")
        }
      })
    },
    {
      name: "honours interruption promptly",
      run: Effect.gen(function* () {
        const check = fail("interruption")
        const fiber = yield* startSlow(check)
        const stopWithin = fixture.stopWithin ?? Duration.seconds(10)
        const stopped = yield* Fiber.interrupt(fiber).pipe(Effect.timeoutOption(stopWithin))
        if (stopped._tag === "None") {
          return yield* check(`still running ${Duration.format(stopWithin)} after the interrupt`)
        }
        const exit = yield* Fiber.await(fiber)
        if (!Exit.hasInterrupts(exit))
          return yield* check(`ended with ${String(exit)} instead of being interrupted`)
      })
    }
  ]
  if (fixture.openResources !== undefined) {
    const count = fixture.openResources
    checks.push({
      name: "leaves no resource open after success, failure and interruption",
      run: Effect.gen(function* () {
        const check = fail("resources")
        const before = yield* count
        for (const raw of fixture.validOptions.slice(0, 1)) yield* runRaw(raw, "valid_rule")
        yield* runRaw(fixture.failing, "failing_rule")
        yield* Fiber.interrupt(yield* startSlow(check))
        const after = yield* count
        if (after !== before) {
          return yield* check(`${after - before} resource(s) left open (${before} before, ${after} after)`)
        }
      })
    })
  }
  return checks
}

// ---- a scripted runner, for tests of the executor, the run and the CLI ----

/** Options of the scripted runner: how long a rule takes and how it ends. */
export const ScriptedOptions = Schema.Struct({
  /** Milliseconds the rule takes. */
  ms: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  /** Fail with this kind of failure after `ms`. */
  fail: Schema.optionalKey(
    Schema.Literals(["sql", "data", "expectation", "target", "unreachable", "session"])
  ),
  /** Die (throw a defect) after `ms`. */
  die: Schema.optionalKey(Schema.Boolean),
  /** With `fail`: fail only the first N attempts (a transient failure), then succeed. */
  fail_attempts: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)))
})
export type ScriptedOptions = typeof ScriptedOptions.Type

/** What the scripted runner saw, in order. */
export interface ScriptedLog {
  readonly events: Array<{ readonly rule: string; readonly event: "start" | "end" | "fail" | "interrupted" }>
  /** Rules running right now. */
  readonly running: Set<string>
  /** Highest number of rules running at once. */
  maxConcurrent: number
}

/** The scripted runner, what it saw, and a way to wait for a rule to start. */
export interface Scripted {
  readonly runner: Plugin.Runner<ScriptedOptions>
  readonly log: ScriptedLog
  /**
   * Arms a wait for the next start of rule `ruleId`: the effect it returns completes when the
   * rule starts, so a test waits for that, never for a time. Arm it before starting the run.
   */
  readonly nextStart: (ruleId: string) => Effect.Effect<Effect.Effect<void>>
}

/**
 * A runner of kind `scripted` whose rules sleep, then succeed, fail or die as told. A skipped
 * rule is restored without a word (it has no output to read back).
 */
export const scripted = (kind = "scripted"): Scripted => {
  const log: ScriptedLog = { events: [], running: new Set(), maxConcurrent: 0 }
  const armed = new Map<string, Array<Latch.Latch>>()
  const nextStart = (ruleId: string) =>
    Effect.sync(() => {
      const latch = Latch.makeUnsafe(false)
      armed.set(ruleId, [...(armed.get(ruleId) ?? []), latch])
      return latch.await
    })
  const runner = Plugin.make({
    kind,
    options: ScriptedOptions,
    restore: () => Effect.succeed(Plugin.restored),
    run: ({ rule, options, attempt }) =>
      Effect.gen(function* () {
        const waiting = yield* Effect.sync(() => {
          log.events.push({ rule: rule.id, event: "start" })
          log.running.add(rule.id)
          log.maxConcurrent = Math.max(log.maxConcurrent, log.running.size)
          const latches = armed.get(rule.id) ?? []
          armed.delete(rule.id)
          return latches
        })
        // `open`, not `openUnsafe`: waiters resume on a later turn, not inside this rule's start.
        yield* Effect.forEach(waiting, (latch) => latch.open)
        yield* Effect.sleep(Duration.millis(options.ms ?? 0))
        if (options.die === true) return yield* Effect.die(new Error(`rule ${rule.id} died on purpose`))
        if (
          options.fail !== undefined &&
          (options.fail_attempts === undefined || attempt <= options.fail_attempts)
        ) {
          const input = { message: `rule ${rule.id} failed on purpose`, ruleId: rule.id }
          const failures = {
            sql: () => new Failure.SqlError({ ...input, code: "UNRESOLVED_COLUMN", sqlState: "42703" }),
            data: () => new Failure.DataError({ ...input, code: "DIVIDE_BY_ZERO", sqlState: "22012" }),
            expectation: () => new Failure.ExpectationFailed(input),
            target: () => new Failure.TargetError(input),
            unreachable: () => new Failure.EngineUnreachable(input),
            session: () => new Failure.SessionLost(input)
          }
          yield* Effect.sync(() => log.events.push({ rule: rule.id, event: "fail" }))
          return yield* Effect.fail(failures[options.fail]())
        }
        yield* Effect.sync(() => log.events.push({ rule: rule.id, event: "end" }))
      }).pipe(
        Effect.onInterrupt(() => Effect.sync(() => log.events.push({ rule: rule.id, event: "interrupted" }))),
        Effect.ensuring(Effect.sync(() => log.running.delete(rule.id)))
      )
  })
  return { runner, log, nextStart }
}
