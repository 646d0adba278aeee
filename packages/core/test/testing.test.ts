import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Schema } from "effect"
import * as Failure from "../src/Failure.js"
import * as Plugin from "../src/Plugin.js"
import * as Testing from "../src/testing.js"
import { node } from "./support.js"

const scripted = Testing.scripted()
const goodFixture: Testing.Fixture<Testing.ScriptedOptions, never> = {
  runner: scripted.runner,
  validOptions: [{}, { ms: 5 }, { ms: 1, fail: "data" }],
  invalidOptions: [{ ms: -1 }, { fail: "nope" }, { retries: 3 }],
  failing: { fail: "sql" },
  slow: { ms: 60_000 },
  interruptAfter: Duration.millis(50),
  stopWithin: Duration.millis(500),
  openResources: Effect.sync(() => scripted.log.running.size)
}

// The smallest fixture, for runners built to break one rule of the contract.
const base = {
  validOptions: [{}],
  invalidOptions: [],
  failing: {},
  slow: {},
  interruptAfter: Duration.millis(50),
  stopWithin: Duration.millis(500)
}

// Runs one named check of a fixture and returns how it ended.
const runCheck = <O>(fixture: Testing.Fixture<O, never>, name: string) => {
  const check = Testing.conformance(fixture).find((c) => c.name.startsWith(name))
  if (check === undefined) throw new Error(`no check named ${name}`)
  return Effect.exit(check.run.pipe(Effect.provide(node)))
}

const failedWith = (exit: Exit.Exit<void, Testing.ConformanceError>) => {
  const error = Exit.findErrorOption(exit)
  return error._tag === "Some" ? error.value.message : "passed"
}

describe("the conformance kit", () => {
  describe("passes a well-behaved runner", () => {
    for (const check of Testing.conformance(goodFixture)) {
      it.live(check.name, () => check.run.pipe(Effect.provide(node)))
    }
  })

  it.live("catches a runner that ignores interruption", () =>
    Effect.gen(function* () {
      const stubborn = Plugin.make({
        kind: "stubborn",
        options: Schema.Struct({}),
        run: () => Effect.uninterruptible(Effect.sleep(Duration.millis(800)))
      })
      const exit = yield* runCheck(
        { ...base, runner: stubborn, stopWithin: Duration.millis(100) },
        "honours interruption"
      )
      expect(failedWith(exit)).toBe("still running 100ms after the interrupt")
    })
  )

  it.live("catches a runner that dies instead of failing with the taxonomy", () =>
    Effect.gen(function* () {
      const dying = Plugin.make({
        kind: "dying",
        options: Schema.Struct({}),
        run: () => Effect.die(new Error("null pointer"))
      })
      const exit = yield* runCheck({ ...base, runner: dying }, "fails with a typed failure")
      expect(failedWith(exit)).toMatch(/^failed with something outside the taxonomy/)
    })
  )

  it.live("catches a failure of the wrong category", () =>
    Effect.gen(function* () {
      const exit = yield* runCheck(
        { ...goodFixture, failing: { fail: "session" } },
        "fails with a typed failure"
      )
      expect(failedWith(exit)).toBe("category system, expected capturable")
    })
  )

  it.live("catches options that should have been refused", () =>
    Effect.gen(function* () {
      const lax = Plugin.make({
        kind: "lax",
        options: Schema.Record(Schema.String, Schema.Unknown),
        run: () => Effect.void
      })
      const exit = yield* runCheck(
        { ...base, runner: lax, invalidOptions: [{ anything: 1 }] },
        "refuses invalid options"
      )
      expect(failedWith(exit)).toBe('accepted {"anything":1}')
    })
  )

  it.live("catches a runner that leaks a resource when interrupted", () =>
    Effect.gen(function* () {
      let open = 0
      const leaky = Plugin.make({
        kind: "leaky",
        options: Schema.Struct({ ms: Schema.Number }),
        // Opens a "session" and closes it only on the happy path.
        run: ({ options }) =>
          Effect.gen(function* () {
            open++
            yield* Effect.sleep(Duration.millis(options.ms))
            open--
            if (options.ms === 1) return yield* new Failure.SqlError({ message: "bad" })
          })
      })
      const exit = yield* runCheck(
        {
          runner: leaky,
          validOptions: [{ ms: 0 }],
          invalidOptions: [],
          failing: { ms: 1 },
          slow: { ms: 60_000 },
          interruptAfter: Duration.millis(20),
          openResources: Effect.sync(() => open)
        },
        "leaves no resource open"
      )
      expect(failedWith(exit)).toBe("1 resource(s) left open (0 before, 1 after)")
    })
  )
})
