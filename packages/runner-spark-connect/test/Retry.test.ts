import { Duration, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import * as Retry from "../src/Retry.js"
import * as SparkError from "../src/SparkError.js"

// Counts attempts of a call that always fails with `error`, retried under a policy.
const attempts = (
  error: SparkError.SparkError,
  policy: Retry.Policy,
  advance: Duration.Input,
  stop = false
) =>
  Effect.gen(function* () {
    let count = 0
    const fiber = yield* Effect.sync(() => void count++).pipe(
      Effect.andThen(Effect.fail(error)),
      Effect.retry(Retry.schedule(policy)),
      Effect.forkChild
    )
    yield* TestClock.adjust(advance)
    // With `stop`, the retries must still be going on: interrupt them instead of waiting.
    const exit = stop
      ? yield* Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber)))
      : yield* Fiber.await(fiber)
    return { count, exit }
  }).pipe(Effect.provide(TestClock.layer()), Effect.runPromise)

const unavailable = SparkError.make("SparkUnavailable", { message: "refused" })

describe("Retry.schedule", () => {
  it("never retries what the table says will not help", async () => {
    const { count, exit } = await attempts(
      SparkError.make("SparkAnalysisError", { message: "x" }),
      {},
      "1 minute"
    )
    expect(count).toBe(1)
    expect(Exit.isFailure(exit)).toBe(true)
  })

  it("retries a retryable failure with backoff and gives up within the caller's budget", async () => {
    const { count, exit } = await attempts(
      unavailable,
      { budget: "2 seconds", initialDelay: "100 millis", maxDelay: "1 second" },
      "10 seconds"
    )
    expect(Exit.isFailure(exit)).toBe(true)
    expect(Exit.findErrorOption(exit)).toMatchObject({ value: { _tag: "SparkUnavailable" } })
    // 100, 200, 400, 800, 1000 ms (±jitter) fit in 2 s: a handful of attempts, not dozens.
    expect(count).toBeGreaterThanOrEqual(3)
    expect(count).toBeLessThanOrEqual(8)
  })

  it("is still waiting before the budget is spent", async () => {
    const { count, exit } = await attempts(
      unavailable,
      { budget: "1 minute", maxDelay: "1 second" },
      "5 seconds",
      true
    )
    expect(Exit.hasInterrupts(exit)).toBe(true)
    expect(count).toBeGreaterThan(3)
  })
})
