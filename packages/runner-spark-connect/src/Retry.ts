/**
 * The one retry policy of the client: exponential backoff with jitter, only for failures the
 * {@link SparkError.retryable} table marks retryable, within a total budget the caller sets.
 * The official clients retry for about ten minutes by default; a batch job cannot wait that
 * long, so our default budget is 30 seconds.
 *
 * @example
 * import * as Retry from "@spark-etl/runner-spark-connect/Retry"
 * const schedule = Retry.schedule({ budget: "10 seconds" })
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as SparkError from "./SparkError.js"

/** How long and how often to retry. */
export interface Policy {
  /** Total time spent retrying one call before its last failure is returned; default 30 s. */
  readonly budget?: Duration.Input
  /** First delay; default 100 ms, doubled each attempt. */
  readonly initialDelay?: Duration.Input
  /** Largest delay between two attempts; default 5 s. */
  readonly maxDelay?: Duration.Input
}

/** The defaults of {@link Policy}. */
export const defaults = { budget: "30 seconds", initialDelay: "100 millis", maxDelay: "5 seconds" } as const

/** The retry schedule of a policy; its input is the failure, which decides whether to go on. */
export const schedule = (
  policy: Policy = {}
): Schedule.Schedule<Duration.Duration, SparkError.SparkError> => {
  const max = Duration.fromInputUnsafe(policy.maxDelay ?? defaults.maxDelay)
  return Schedule.exponential(policy.initialDelay ?? defaults.initialDelay, 2).pipe(
    Schedule.setInputType<SparkError.SparkError>(),
    Schedule.modifyDelay((meta) =>
      Effect.succeed(Duration.min(Duration.fromInputUnsafe(meta.duration), max))
    ),
    Schedule.jittered,
    Schedule.upTo({ duration: policy.budget ?? defaults.budget }),
    Schedule.while((meta) => SparkError.isRetryable(meta.input))
  )
}
