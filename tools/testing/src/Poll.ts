/**
 * Waiting for a condition with a deadline, never for a fixed time: tests and benchmarks run on
 * loaded machines, where "1.5 s is enough for the scan to start" is true until it is not.
 *
 * @example
 * await eventually(async () => (await jobs()).some((j) => j.status === "RUNNING"), 60_000)
 * yield* Poll.until(running, { what: "the scan to run on Spark", within: "60 seconds" })
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"

/** Resolves after `ms`; only for pacing a poll or a fault's chosen moment, never to wait for a state. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` every 50 ms until it holds or `ms` passed; its last answer. */
export const waitFor = async (check: () => boolean, ms: number): Promise<boolean> => {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (check()) return true
    await sleep(50)
  }
  return check()
}

/** Polls an async `check` every 250 ms until it holds or `ms` passed; its last answer. */
export const eventually = async (check: () => Promise<boolean>, ms: number): Promise<boolean> => {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await check()) return true
    await sleep(250)
  }
  return check()
}

/** `promise`, or a rejection naming `what` once `ms` passed (so a `finally` still runs). */
export const within = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** A condition that did not hold within its deadline. */
export class PollTimeout extends Data.TaggedError("PollTimeout")<{ readonly message: string }> {}

/**
 * Repeats `check` until `holds` accepts its answer, and returns that answer; fails with
 * {@link PollTimeout} naming `what` once `within` passed. Runs on the Clock it is given: under
 * `it.effect`'s TestClock, use `it.live`.
 */
export const untilHolds = <A, E, R>(
  check: Effect.Effect<A, E, R>,
  holds: (answer: A) => boolean,
  options: PollOptions
): Effect.Effect<A, E | PollTimeout, R> =>
  check.pipe(
    Effect.repeat({ until: holds, schedule: Schedule.spaced(options.every ?? "100 millis") }),
    Effect.timeoutOrElse({
      duration: options.within,
      orElse: () =>
        Effect.fail(
          new PollTimeout({
            message: `${options.what}: not within ${Duration.format(Duration.fromInputUnsafe(options.within))}`
          })
        )
    })
  )

export interface PollOptions {
  /** What is awaited, for the failure's message. */
  readonly what: string
  readonly within: Duration.Input
  /** Between two checks; 100 ms unless said. */
  readonly every?: Duration.Input
}

/** {@link untilHolds} for a check that answers whether the condition holds. */
export const until = <E, R>(
  check: Effect.Effect<boolean, E, R>,
  options: PollOptions
): Effect.Effect<void, E | PollTimeout, R> => Effect.asVoid(untilHolds(check, (held) => held, options))

/**
 * Whether something was there at a point, or comes within `within` after it: what a statement
 * that was stopped or fenced at that point still did later. `there` is the look at the point;
 * when it found nothing, `check` is asked again until it answers true or `within` passes (a
 * thing that stays absent is then confirmed by the looks).
 */
export const thereOrLater = <E, R>(
  there: boolean,
  check: Effect.Effect<boolean, E, R>,
  options: PollOptions
): Effect.Effect<boolean, E, R> =>
  there
    ? Effect.succeed(true)
    : untilHolds(check, (made) => made, options).pipe(
        Effect.catchTag("PollTimeout", () => Effect.succeed(false))
      )
