import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Schema } from "effect"
import * as Failure from "../src/Failure.js"
import * as Retry from "../src/Retry.js"

const decode = Schema.decodeUnknownSync(Retry.Spec)
const session = new Failure.SessionLost({ message: "the session went away" })
const missingColumn = new Failure.SqlError({ message: "no column x", code: "UNRESOLVED_COLUMN" })

describe("Retry", () => {
  it("reads delays in ms, s, m or seconds, 10 s by default, and doubles them when exponential", () => {
    const ms = (spec: unknown, n = 1) => Duration.toMillis(Retry.delayBefore(Retry.policy(decode(spec)), n))
    expect(ms({ attempts: 2 })).toBe(10_000)
    expect(ms({ attempts: 2, delay: "500ms" })).toBe(500)
    expect(ms({ attempts: 2, delay: "2m" })).toBe(120_000)
    expect(ms({ attempts: 2, delay: 1.5 })).toBe(1500)
    expect(ms({ attempts: 4, delay: "1s", backoff: "exponential" }, 3)).toBe(4000)
    expect(ms({ attempts: 4, delay: "1s" }, 3)).toBe(1000)
  })

  it("refuses attempts below 1 and delays it cannot read", () => {
    expect(() => decode({ attempts: 0 })).toThrow()
    expect(() => decode({ attempts: 2, delay: "soon" })).toThrow(/a delay such as 500ms/)
  })

  it("retries only what `on` names, and never a SQL analysis error, a rejection or an interruption", () => {
    const policy = Retry.policy(decode({ attempts: 3, on: ["system", "UNRESOLVED_COLUMN", "capturable"] }))
    expect(Retry.isRetryable(policy, session)).toBe(true)
    expect(Retry.isRetryable(policy, missingColumn)).toBe(false)
    expect(Retry.whyNot(policy, missingColumn)).toBe("a SQL parse or analysis error is never retried")
    expect(Retry.isRetryable(policy, new Failure.Interrupted({ message: "stop" }))).toBe(false)
    const byCode = Retry.policy(decode({ attempts: 3, on: ["DIVIDE_BY_ZERO"] }))
    expect(Retry.isRetryable(byCode, new Failure.DataError({ message: "x", code: "DIVIDE_BY_ZERO" }))).toBe(
      true
    )
    expect(Retry.isRetryable(byCode, session)).toBe(false)
    expect(Retry.whyNot(byCode, session)).toBe(
      "neither its category (system) nor its code (SESSION_LOST) is in retry.on (DIVIDE_BY_ZERO)"
    )
    expect(Retry.whyNot(Retry.policy(decode({ attempts: 3 })), session)).toMatch(/retry.on \(empty\)/)
  })

  it.live("schedules as many retries as attempts allow, each announced before its delay", () =>
    Effect.gen(function* () {
      const policy = Retry.policy(
        decode({ attempts: 3, delay: "1ms", backoff: "exponential", on: ["system"] })
      )
      const announced: Array<[number, string, number]> = []
      let calls = 0
      const exit = yield* Effect.exit(
        Effect.retry(
          Effect.suspend(() => {
            calls++
            return Effect.fail(session)
          }),
          Retry.schedule(policy, (next, cause, delay) =>
            Effect.sync(() => void announced.push([next, cause.code, Duration.toMillis(delay)]))
          )
        )
      )
      expect(exit._tag).toBe("Failure")
      expect(calls).toBe(3)
      expect(announced).toEqual([
        [2, "SESSION_LOST", 1],
        [3, "SESSION_LOST", 2]
      ])
    })
  )

  it.live("announces nothing for a failure it does not retry", () =>
    Effect.gen(function* () {
      const policy = Retry.policy(decode({ attempts: 5, delay: "1ms", on: ["system"] }))
      let announced = 0
      let calls = 0
      yield* Effect.exit(
        Effect.retry(
          Effect.suspend(() => {
            calls++
            return Effect.fail(missingColumn)
          }),
          Retry.schedule(policy, () => Effect.sync(() => void announced++))
        )
      )
      expect([calls, announced]).toEqual([1, 0])
    })
  )
})
