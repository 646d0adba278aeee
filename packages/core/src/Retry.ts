/**
 * Per-rule retry flags (`retry:` of a rule in the batch file). A rule is retried only for the
 * failures its `on` list names — a category (`system`) or a code (Spark's errorClass, or ours,
 * e.g. `SESSION_LOST`) — and never for a SQL parse or analysis error, a rejection or an
 * interruption, whatever the list says: running the same wrong SQL again cannot help.
 * Delays follow an Effect `Schedule` (fixed or doubling); the executor bounds the whole series
 * by the rule's deadline.
 *
 * @example
 * // retry: { attempts: 3, delay: 10s, backoff: exponential, on: [system, SESSION_LOST] }
 * const policy = Retry.policy(rule.retry) // 3 attempts at most: 10 s, then 20 s between them
 */
import * as Duration from "effect/Duration"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Effect from "effect/Effect"
import type * as Failure from "./Failure.js"

const DelayText = Schema.String.check(
  Schema.isPattern(/^\d+(\.\d+)?\s*(ms|s|m)$/, {
    message: "a delay such as 500ms, 10s or 2m (or a number of seconds)"
  })
)

/** `retry:` of a rule, as written. */
export const Spec = Schema.Struct({
  /** Attempts in all, the first included (2 = one retry); at least 1, at most 100. */
  attempts: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100 })),
  /** Wait before the first retry: `500ms`, `10s`, `2m`, or a number of seconds; default 10s. */
  delay: Schema.optionalKey(Schema.Union([Schema.Number.check(Schema.isGreaterThanOrEqualTo(0)), DelayText])),
  /** `fixed` (the default): the same delay each time; `exponential`: doubled each time. */
  backoff: Schema.optionalKey(Schema.Literals(["fixed", "exponential"])),
  /** What may be retried: `system`, or failure codes. Empty (the default): nothing. */
  on: Schema.optionalKey(Schema.Array(Schema.NonEmptyString))
})
export type Spec = typeof Spec.Type

/** Failures no flag makes retryable: the same SQL, the same refusal, the same stop. */
const neverRetried: ReadonlySet<string> = new Set(["SqlError", "ConfigRejected", "Interrupted"])

/** A rule's retry policy, resolved from its spec. */
export interface Policy {
  readonly attempts: number
  readonly delay: Duration.Duration
  readonly backoff: "fixed" | "exponential"
  readonly on: ReadonlyArray<string>
}

/** The delay of a spec in milliseconds. */
const delayMillis = (delay: Spec["delay"]): number => {
  if (delay === undefined) return 10_000
  if (typeof delay === "number") return Math.round(delay * 1000)
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m)$/.exec(delay)!
  const n = Number(match[1])
  return Math.round(match[2] === "ms" ? n : match[2] === "s" ? n * 1000 : n * 60_000)
}

/** The policy of a spec. */
export const policy = (spec: Spec): Policy => ({
  attempts: spec.attempts,
  delay: Duration.millis(delayMillis(spec.delay)),
  backoff: spec.backoff ?? "fixed",
  on: spec.on ?? []
})

/** Whether `failure` may be retried under `policy` (see the module's documentation). */
export const isRetryable = (policy: Policy, failure: Failure.Failure): boolean =>
  !neverRetried.has(failure._tag) &&
  (policy.on.includes(failure.category) || policy.on.includes(failure.code))

/** Why a failure is not retried, for the log (undefined when it is retryable). */
export const whyNot = (policy: Policy, failure: Failure.Failure): string | undefined => {
  if (neverRetried.has(failure._tag))
    return failure._tag === "SqlError"
      ? "a SQL parse or analysis error is never retried"
      : `a${failure.category === "interrupted" ? "n interruption" : " rejection"} is never retried`
  if (!isRetryable(policy, failure))
    return `neither its category (${failure.category}) nor its code (${failure.code}) is in retry.on${policy.on.length > 0 ? ` (${policy.on.join(", ")})` : " (empty)"}`
  return undefined
}

/** The delay before retry `n` (1 = the first retry). */
export const delayBefore = (policy: Policy, n: number): Duration.Duration =>
  policy.backoff === "fixed" ? policy.delay : Duration.times(policy.delay, 2 ** (n - 1))

/**
 * The schedule of a policy's retries: its delays, as long as the failure is retryable and
 * attempts are left. `onRetry` runs at each decision to retry, with the attempt about to run,
 * the failure that caused it and the delay before it.
 */
export const schedule = <X>(
  policy: Policy,
  onRetry: (next: number, cause: Failure.RuleFailure, delay: Duration.Duration) => Effect.Effect<X>
): Schedule.Schedule<unknown, Failure.RuleFailure> => {
  const delays: Schedule.Schedule<unknown> =
    policy.backoff === "fixed" ? Schedule.spaced(policy.delay) : Schedule.exponential(policy.delay, 2)
  return delays.pipe(
    Schedule.setInputType<Failure.RuleFailure>(),
    Schedule.while(({ input, attempt }) => attempt < policy.attempts && isRetryable(policy, input)),
    Schedule.tap(({ input, attempt, duration }) => onRetry(attempt + 1, input, duration))
  )
}
