import { assert, describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, Result } from "effect"
import { TestClock } from "effect/testing"
import * as Dag from "../src/Dag.js"
import * as Executor from "../src/Executor.js"
import * as Failure from "../src/Failure.js"

interface Step {
  readonly deps?: ReadonlyArray<string>
  readonly ms?: number
  readonly fail?: Failure.RuleFailure
  readonly die?: boolean
  /** How long the rule takes to end once interrupted (an engine slow to answer the interrupt). */
  readonly stopMs?: number
}

// A plan from a spec, and a rule runner that sleeps on the (test) clock and logs what it did.
const fixture = (spec: Record<string, Step>) => {
  const planned = Dag.make(Object.entries(spec).map(([id, s]) => ({ id, dependsOn: s.deps ?? [] })))
  if (Result.isFailure(planned)) throw new Error("bad fixture")
  const log: Array<{ id: string; event: "start" | "end" | "interrupted"; at: number }> = []
  let running = 0
  let maxRunning = 0
  const runRule: Executor.RunRule = (id) => {
    const s = spec[id]!
    return Effect.gen(function* () {
      const at = yield* Effect.clockWith((c) => c.currentTimeMillis)
      log.push({ id, event: "start", at })
      running++
      maxRunning = Math.max(maxRunning, running)
      yield* Effect.sleep(Duration.millis(s.ms ?? 10))
      if (s.die) return yield* Effect.die(new Error(`defect in ${id}`))
      if (s.fail) return yield* Effect.fail(s.fail)
      log.push({ id, event: "end", at: yield* Effect.clockWith((c) => c.currentTimeMillis) })
    }).pipe(
      Effect.onInterrupt(() =>
        Effect.clockWith((c) => c.currentTimeMillis).pipe(
          Effect.map((at) => void log.push({ id, event: "interrupted", at })),
          s.stopMs === undefined ? (logged) => logged : Effect.delay(Duration.millis(s.stopMs))
        )
      ),
      Effect.ensuring(Effect.sync(() => void running--))
    )
  }
  return { plan: planned.success, runRule, log, maxRunning: () => maxRunning }
}

// Runs the executor while the test clock moves forward.
const execute = (plan: Dag.Plan, runRule: Executor.RunRule, options: Executor.Options = {}) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(Executor.execute(plan, runRule, options))
    yield* TestClock.adjust(Duration.seconds(60))
    return yield* Fiber.join(fiber)
  })

const states = (report: Executor.Report) => Object.fromEntries(report.rules.map((r) => [r.id, r.state]))

describe("Executor", () => {
  it.effect("runs every rule once, in dependency order, one at a time by default", () =>
    Effect.gen(function* () {
      const f = fixture({
        a: { ms: 10 },
        b: { deps: ["a"], ms: 20 },
        c: { deps: ["a"], ms: 5 },
        d: { deps: ["b", "c"] }
      })
      const transitions: Array<Executor.Transition> = []
      const report = yield* execute(f.plan, f.runRule, {
        onTransition: (t) => Effect.sync(() => void transitions.push(t))
      })
      expect(report.status).toBe("succeeded")
      expect(report.failure).toBeUndefined()
      expect(states(report)).toEqual({ a: "succeeded", b: "succeeded", c: "succeeded", d: "succeeded" })
      expect(f.maxRunning()).toBe(1)
      const starts = f.log.filter((e) => e.event === "start").map((e) => e.id)
      expect(starts).toHaveLength(4)
      expect(starts[0]).toBe("a")
      expect(starts[3]).toBe("d")
      // Timings come from the clock: each rule took its own time, the batch their sum.
      expect(report.rules.find((r) => r.id === "b")!.durationMs).toBe(20)
      expect(report.durationMs).toBe(45)
      expect(transitions.filter((t) => t._tag === "RuleStarted")).toHaveLength(4)
      expect(transitions.filter((t) => t._tag === "RuleEnded")).toHaveLength(4)
    })
  )

  it.effect("runs up to N rules at once when asked", () =>
    Effect.gen(function* () {
      const spec: Record<string, Step> = {}
      for (let i = 0; i < 8; i++) spec[`r${i}`] = { ms: 10 }
      const f = fixture(spec)
      const report = yield* execute(f.plan, f.runRule, { parallelism: 4 })
      expect(report.status).toBe("succeeded")
      expect(f.maxRunning()).toBe(4)
      expect(report.durationMs).toBe(20)
    })
  )

  it.effect("fails fast at parallelism 1: nothing starts after the failure, the rest is not run", () =>
    Effect.gen(function* () {
      const f = fixture({
        a: {},
        b: {
          deps: ["a"],
          fail: new Failure.SqlError({ message: "bad column", code: "UNRESOLVED_COLUMN", ruleId: "b" })
        },
        c: { deps: ["a"] },
        d: { deps: ["b"] }
      })
      const report = yield* execute(f.plan, f.runRule)
      expect(report.status).toBe("failed")
      assert(report.failure?._tag === "SqlError")
      expect(report.failure.code).toBe("UNRESOLVED_COLUMN")
      expect(Failure.toExitCode(report.failure)).toBe(1)
      const s = states(report)
      expect(s.a).toBe("succeeded")
      expect(s.b).toBe("failed")
      expect(s.d).toBe("not_run")
      // c was ready (after a) but waited for the single slot; b failed first, so c never started.
      expect(s.c).toBe("not_run")
      expect(f.log.map((e) => e.id)).not.toContain("c")
      const failedAt = report.rules.find((r) => r.id === "b")!.endedAt!
      expect(f.log.filter((e) => e.event === "start" && e.at > failedAt)).toEqual([])
    })
  )

  it.effect("fails fast at parallelism 4: in-flight siblings are interrupted, nothing new starts", () =>
    Effect.gen(function* () {
      const f = fixture({
        fast_fail: {
          ms: 10,
          fail: new Failure.DataError({ message: "divide by zero", ruleId: "fast_fail" })
        },
        slow1: { ms: 1000 },
        slow2: { ms: 1000 },
        slow3: { ms: 1000 },
        queued: { ms: 10 },
        after: { deps: ["slow1"] }
      })
      const report = yield* execute(f.plan, f.runRule, { parallelism: 4 })
      expect(report.status).toBe("failed")
      expect(report.failure?._tag).toBe("DataError")
      expect(states(report)).toEqual({
        fast_fail: "failed",
        slow1: "interrupted",
        slow2: "interrupted",
        slow3: "interrupted",
        queued: "not_run",
        after: "not_run"
      })
      expect(
        f.log
          .filter((e) => e.event === "interrupted")
          .map((e) => e.id)
          .sort()
      ).toEqual(["slow1", "slow2", "slow3"])
      // The siblings were interrupted at the moment of the failure, not left to finish.
      expect(f.log.filter((e) => e.event === "interrupted").every((e) => e.at === 10)).toBe(true)
      expect(report.durationMs).toBe(10)
      expect(f.log.filter((e) => e.event === "start").map((e) => e.id)).not.toContain("queued")
    })
  )

  it.effect("stops the same way on a system failure, with its own category", () =>
    Effect.gen(function* () {
      const f = fixture({
        a: { ms: 5, fail: new Failure.SessionLost({ message: "session gone", ruleId: "a" }) },
        b: { ms: 100 },
        c: { deps: ["a"] }
      })
      const report = yield* execute(f.plan, f.runRule, { parallelism: 2 })
      expect(report.status).toBe("failed")
      expect(report.failure?.category).toBe("system")
      expect(Failure.toExitCode(report.failure!)).toBe(2)
      expect(states(report)).toEqual({ a: "failed", b: "interrupted", c: "not_run" })
    })
  )

  it.effect("turns a defect into a system failure that keeps the stack", () =>
    Effect.gen(function* () {
      const f = fixture({ a: { die: true }, b: { deps: ["a"] } })
      const report = yield* execute(f.plan, f.runRule)
      assert(report.failure?._tag === "Defect")
      expect(report.failure.ruleId).toBe("a")
      expect(report.failure.engineDetail).toContain("defect in a")
      expect(states(report)).toEqual({ a: "failed", b: "not_run" })
    })
  )

  it.effect("stops on request (a signal): in-flight rules interrupted, status aborted", () =>
    Effect.gen(function* () {
      const f = fixture({ a: { ms: 10 }, b: { deps: ["a"], ms: 1000 }, c: { deps: ["b"] } })
      const signal = yield* Deferred.make<Failure.Interrupted>()
      const fiber = yield* Effect.forkChild(Executor.execute(f.plan, f.runRule, { stop: signal }))
      yield* TestClock.adjust(Duration.millis(50))
      yield* Deferred.succeed(
        signal,
        new Failure.Interrupted({ message: "SIGTERM received", signal: "SIGTERM" })
      )
      const report = yield* Fiber.join(fiber)
      expect(report.status).toBe("aborted")
      expect(Failure.toExitCode(report.failure!)).toBe(143)
      expect(states(report)).toEqual({ a: "succeeded", b: "interrupted", c: "not_run" })
    })
  )

  it.effect("interrupts a rule even when the interrupt comes as the rule starts", () =>
    Effect.gen(function* () {
      const planned = Dag.make([{ id: "a", dependsOn: [] }])
      assert(Result.isSuccess(planned))
      const ended: Array<string> = []
      const executor: { fiber?: Fiber.Fiber<Executor.Report> } = {}
      // The interrupt reaches the executor between the rule's fork and its registration.
      const runRule: Executor.RunRule = () =>
        Effect.sync(() => executor.fiber?.interruptUnsafe()).pipe(
          Effect.andThen(Effect.never),
          Effect.onInterrupt(() => Effect.sync(() => void ended.push("a")))
        )
      // Not started at once, so `executor.fiber` is set before the rule runs.
      executor.fiber = yield* Effect.forkChild(Executor.execute(planned.success, runRule), {
        startImmediately: false
      })
      yield* Fiber.await(executor.fiber)
      expect(ended).toEqual(["a"])
    })
  )

  it.effect("fails a rule past its deadline as DeadlineExceeded", () =>
    Effect.gen(function* () {
      const f = fixture({ a: { ms: 5000 } })
      const report = yield* execute(f.plan, f.runRule, { ruleTimeout: Duration.seconds(1) })
      assert(report.failure?._tag === "DeadlineExceeded")
      expect(report.failure.category).toBe("system")
      expect(report.rules[0]!.durationMs).toBe(1000)
      expect(f.log.map((e) => e.event)).toEqual(["start", "interrupted"])
    })
  )

  describe("stopGrace", () => {
    const sigterm = new Failure.Interrupted({ message: "SIGTERM received", signal: "SIGTERM" })
    // `polite` ends at once when interrupted, `stubborn` 10 s later (its engine does not answer).
    const rules: Record<string, Step> = {
      polite: { ms: 1000 },
      stubborn: { ms: 1000, stopMs: 10_000 },
      after: { deps: ["polite"] }
    }
    // Stops the batch 50 ms in, then lets `clockAfterStop` pass on the test clock. The report is
    // taken when `execute` returns: its fiber itself ends only once every rule's fiber has.
    const stopAt50 = (options: Executor.Options, clockAfterStop: Duration.Input) =>
      Effect.gen(function* () {
        const f = fixture(rules)
        const signal = yield* Deferred.make<Failure.Interrupted>()
        const reported = yield* Deferred.make<Executor.Report>()
        yield* Executor.execute(f.plan, f.runRule, { parallelism: 2, stop: signal, ...options }).pipe(
          Effect.flatMap((report) => Deferred.succeed(reported, report)),
          Effect.forkChild
        )
        yield* TestClock.adjust(Duration.millis(50))
        yield* Deferred.succeed(signal, sigterm)
        yield* TestClock.adjust(clockAfterStop)
        return { report: yield* Deferred.await(reported), log: f.log }
      })
    const interruptedAt = (log: ReturnType<typeof fixture>["log"]) =>
      Object.fromEntries(log.filter((e) => e.event === "interrupted").map((e) => [e.id, e.at]))

    it.effect("after a stop, closes within the grace and lists the rules still running as unsettled", () =>
      Effect.gen(function* () {
        const { report, log } = yield* stopAt50({ stopGrace: Duration.millis(100) }, Duration.millis(200))
        expect(report.status).toBe("aborted")
        expect(report.endedAt).toBe(150)
        expect(states(report)).toEqual({ polite: "interrupted", stubborn: "interrupted", after: "not_run" })
        expect(report.rules.find((r) => r.id === "stubborn")!.endedAt).toBe(150)
        // Only the rule whose interrupt had not ended when the grace ran out is unsettled.
        expect(interruptedAt(log)).toEqual({ polite: 50 })
        expect(report.unsettled).toEqual(["stubborn"])
        // Its fiber was left to finish the interrupt in the background.
        yield* TestClock.adjust(Duration.seconds(10))
        expect(interruptedAt(log)).toEqual({ polite: 50, stubborn: 10_050 })
      }).pipe(Effect.ensuring(TestClock.adjust(Duration.seconds(10))))
    )

    it.effect("settles nothing when every interrupted rule ends within the grace", () =>
      Effect.gen(function* () {
        const { report } = yield* stopAt50({ stopGrace: Duration.seconds(20) }, Duration.seconds(60))
        expect(report.status).toBe("aborted")
        expect(report.endedAt).toBe(10_050)
        expect(report.unsettled).toEqual([])
      })
    )

    it.effect("without a grace, a stop waits for every interrupted rule to end", () =>
      Effect.gen(function* () {
        const { report, log } = yield* stopAt50({}, Duration.seconds(60))
        expect(report.status).toBe("aborted")
        expect(report.endedAt).toBe(10_050)
        expect(interruptedAt(log)).toEqual({ polite: 50, stubborn: 10_050 })
        expect(report.unsettled).toEqual([])
      })
    )

    it.effect("does not bound the wait after a rule failure, which is not a stop", () =>
      Effect.gen(function* () {
        const f = fixture({
          bad: { ms: 10, fail: new Failure.SqlError({ message: "bad column", ruleId: "bad" }) },
          stubborn: { ms: 1000, stopMs: 10_000 }
        })
        const signal = yield* Deferred.make<Failure.Interrupted>()
        const report = yield* execute(f.plan, f.runRule, {
          parallelism: 2,
          stop: signal,
          stopGrace: Duration.millis(100)
        })
        expect(report.status).toBe("failed")
        expect(report.failure?._tag).toBe("SqlError")
        expect(report.endedAt).toBe(10_010)
        expect(states(report)).toEqual({ bad: "failed", stubborn: "interrupted" })
        expect(report.unsettled).toEqual([])
      })
    )
  })
})
