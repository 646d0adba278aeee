import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Latch, Schema } from "effect"
import type * as Errors from "../src/Errors.js"
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
  slowRunning: scripted.nextStart("slow_rule"),
  stopWithin: Duration.millis(500),
  openResources: Effect.sync(() => scripted.log.running.size)
}

// A runner built to break one rule of the contract, and the smallest fixture for it. The
// witness of its slow rule is the rule's own start: each arming waits for the next one.
const breaking = <O>(
  kind: string,
  options: Schema.Decoder<O>,
  run: (options: O) => Effect.Effect<void, Failure.RuleFailure>
) => {
  let next = Latch.makeUnsafe(false)
  return {
    runner: Plugin.make({
      kind,
      options,
      run: (ctx) =>
        Effect.andThen(
          Effect.sync(() => next.openUnsafe()),
          run(ctx.options)
        )
    }),
    validOptions: [{}],
    invalidOptions: [],
    failing: {},
    slow: {},
    slowRunning: Effect.sync(() => {
      next = Latch.makeUnsafe(false)
      return next.await
    }),
    stopWithin: Duration.millis(500)
  }
}

// Runs one named check of a fixture and returns how it ended.
const runCheck = <O>(fixture: Testing.Fixture<O, never>, name: string) => {
  const check = Testing.conformance(fixture).find((c) => c.name.startsWith(name))
  if (check === undefined) throw new Error(`no check named ${name}`)
  return Effect.exit(check.run.pipe(Effect.provide(node)))
}

const failedWith = (exit: Exit.Exit<void, Errors.ConformanceError>) => {
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
      // It holds on, deaf to the interrupt, until the test lets it go (no clock involved).
      const release = Latch.makeUnsafe(false)
      const stubborn = breaking("stubborn", Schema.Struct({}), () => Effect.uninterruptible(release.await))
      const exit = yield* runCheck(
        { ...stubborn, stopWithin: Duration.millis(100) },
        "honours interruption"
      ).pipe(Effect.ensuring(release.open))
      expect(failedWith(exit)).toBe("still running 100ms after the interrupt")
    })
  )

  it.live("catches a runner whose slow rule ends before it can be interrupted", () =>
    Effect.gen(function* () {
      const quick = breaking("quick", Schema.Struct({}), () => Effect.void)
      const exit = yield* runCheck(quick, "honours interruption")
      expect(failedWith(exit)).toBe("the slow fixture ended before it could be interrupted; make it slower")
    })
  )

  it.live("gives up on a slow rule its witness never sees running", () =>
    Effect.gen(function* () {
      const exit = yield* runCheck(
        { ...goodFixture, slowRunning: Effect.succeed(Effect.never), startWithin: Duration.millis(50) },
        "honours interruption"
      )
      expect(failedWith(exit)).toBe("the slow fixture was not seen running within 50ms")
    })
  )

  it.live("catches a runner that dies instead of failing with the taxonomy", () =>
    Effect.gen(function* () {
      const dying = breaking("dying", Schema.Struct({}), () => Effect.die(new Error("null pointer")))
      const exit = yield* runCheck(dying, "fails with a typed failure")
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
      const lax = breaking("lax", Schema.Record(Schema.String, Schema.Unknown), () => Effect.void)
      const exit = yield* runCheck({ ...lax, invalidOptions: [{ anything: 1 }] }, "refuses invalid options")
      expect(failedWith(exit)).toBe('accepted {"anything":1}')
    })
  )

  it.live("catches a runner that leaks a resource when interrupted", () =>
    Effect.gen(function* () {
      let open = 0
      // Opens a "session" and closes it only on the happy path.
      const leaky = breaking(
        "leaky",
        Schema.Struct({ rule: Schema.Literals(["quick", "failing", "slow"]) }),
        ({ rule }) =>
          Effect.gen(function* () {
            open++
            // The slow rule runs until it is interrupted, and then skips the close below.
            if (rule === "slow") yield* Effect.never
            open--
            if (rule === "failing") return yield* new Failure.SqlError({ message: "bad" })
          })
      )
      const exit = yield* runCheck(
        {
          ...leaky,
          validOptions: [{ rule: "quick" }],
          failing: { rule: "failing" },
          slow: { rule: "slow" },
          openResources: Effect.sync(() => open)
        },
        "leaves no resource open"
      )
      expect(failedWith(exit)).toBe("1 resource(s) left open (0 before, 1 after)")
    })
  )
})
