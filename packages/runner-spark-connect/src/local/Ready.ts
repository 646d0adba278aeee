/**
 * Waiting for a server this process started (Spark Connect here; Kafka and PostgreSQL in the
 * test harness): ready only once a real request answers, failing at once when the process is
 * gone, and after a deadline with what its log says.
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"

/** What a server's start reports of itself. */
export interface Wait<E, R> {
  /** The server's process (a child process handle). */
  readonly process: { readonly isRunning: Effect.Effect<boolean, unknown> }
  /** The error when the process exited before answering (its log's tail, say). */
  readonly exited: () => E
  /** A real request to the server; any failure means "not yet". */
  readonly answers: Effect.Effect<unknown, unknown, R>
  /** How often to ask. */
  readonly every: Duration.Input
  /** How long the server may take. */
  readonly within: Duration.Input
  /** The error when it did not answer in time. */
  readonly timedOut: () => E
}

// Only the server's own error (the process exited) ends the wait early; a refused request is retried.
class Exited<E> {
  constructor(readonly error: E) {}
}
class NotYet {}

/** Succeeds when the server answers; fails with its error when it exits or does not answer in time. */
export const until = <E, R = ChildProcessSpawner.ChildProcessSpawner>(
  wait: Wait<E, R>
): Effect.Effect<void, E, R> => {
  // A process whose state cannot be read counts as running: the deadline still ends the wait.
  const running = wait.process.isRunning.pipe(Effect.orElseSucceed(() => true))
  const attempt: Effect.Effect<unknown, Exited<E> | NotYet, R> = running.pipe(
    Effect.flatMap((alive) => (alive ? Effect.void : Effect.fail(new Exited(wait.exited())))),
    Effect.andThen(Effect.mapError(wait.answers, () => new NotYet()))
  )
  return attempt.pipe(
    Effect.retry({ while: (e) => e instanceof NotYet, schedule: Schedule.spaced(wait.every) }),
    Effect.timeoutOrElse({ duration: wait.within, orElse: () => Effect.fail(new Exited(wait.timedOut())) }),
    Effect.mapError((e) => (e instanceof Exited ? e.error : wait.timedOut())),
    Effect.asVoid
  )
}
