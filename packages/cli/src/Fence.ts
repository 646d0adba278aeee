/**
 * Fencing: attach to a run's Spark session by id and interrupt every operation it left
 * running, so no zombie query writes into the targets a run is about to clean. Used for a
 * crashed predecessor, for one that ended `unfenced`, and by a run on itself when it ends
 * without a clean finish. Only "the server no longer has this session" counts as nothing left
 * to stop; every other error fails the fence, and the batch stays fenced off until a later
 * attempt succeeds. Each operation interrupted is then followed until the server shows its end
 * (or that its client had read it, see SparkSession.awaitEnd); one that shows none within the
 * deadline fails the fence too. The session is then released, so that nothing more can start
 * in it; the interrupt and the ends are the proof, the release's outcome is told apart in the
 * log line ("released", "release failed: …", or not offered by a 3.5 server, whose sessions
 * end by idle timeout).
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { Failure, type Ledger, type Run } from "@spark-etl/core"
import * as ConnectionString from "@spark-etl/runner-spark-connect/ConnectionString"
import * as SparkSession from "@spark-etl/runner-spark-connect/SparkSession"

// The one answer that proves nothing of the session can run: the server no longer has it.
const sessionGone = (error: { readonly _tag: string; readonly errorClass?: string | undefined }) =>
  error._tag === "SparkSessionLost" &&
  (error.errorClass === "INVALID_HANDLE.SESSION_CLOSED" ||
    error.errorClass === "INVALID_HANDLE.SESSION_NOT_FOUND")

/**
 * Interrupts every operation of `sessionId` on `remote` and follows each to its end: each call
 * within `timeout`, a refused or broken connection tried again for `retryBudget`. Succeeds with
 * what it stopped (nothing when the server no longer has the session); any other error — the
 * server unreachable, authentication refused, an end not shown in time, anything unexpected —
 * fails: fencing fails closed, because "we could not look" is not "nothing runs there".
 */
const session = (
  remote: string,
  sessionId: string,
  options: {
    readonly timeout: Duration.Duration
    readonly retryBudget: Duration.Duration
    /** What an earlier fence interrupted without seeing its end: interrupted once, never named again. */
    readonly pending: ReadonlyArray<string>
  }
): Effect.Effect<Fenced, StillRunning | { readonly message: string }> =>
  Effect.gen(function* () {
    const spark = yield* SparkSession.make({
      remote: ConnectionString.withSessionId(remote, sessionId),
      rpcTimeout: options.timeout,
      retry: { budget: options.retryBudget },
      interruptWait: options.timeout,
      // Released below once the fence holds; left to the next fence otherwise (a released
      // session's operations run on unseen).
      releaseOnClose: false
    })
    const stopped = yield* spark.interrupt("all").pipe(
      // An operation that had only just reached the server (Pending, its thread not yet started)
      // is stopped for good by the interrupt (it will never start), but 4.x then fails the whole
      // call closing it ("… with status Pending is not within statuses … for event Closed"): ask
      // again for the others. Those the failed call had interrupted before it are not named again
      // (Spark interrupts once), as they would not be to the next fence if this one failed here.
      Effect.retry({
        while: operationInTransition,
        schedule: Schedule.spaced("100 millis"),
        times: 20
      })
    )
    const earlier = options.pending.filter((id) => !stopped.includes(id))
    // Interrupted is not ended: Spark stops an operation only where its work checks (a statement
    // being parsed, a view being made run on), and what it still does would land in targets the
    // run is about to clean. So the fence holds once the server has ended each one, or had
    // answered it already (see SparkSession.OperationEnd: a query that returned rows).
    const ends = yield* Effect.forEach(
      [...stopped, ...earlier],
      (id) => Effect.map(spark.awaitEnd(id), (end) => ({ id, end })),
      { concurrency: "unbounded" }
    )
    const running = ends.filter(({ end }) => end === "unknown").map(({ id }) => id)
    if (running.length > 0)
      return yield* Effect.fail(
        new StillRunning({
          operations: running,
          message: `the server did not show the end of ${running.length} interrupted operation(s) within ${Duration.format(options.timeout)}, so they may still be running there: ${running.join(", ")}`
        })
      )
    const released = yield* spark.release.pipe(
      // Just after an interrupt the server may refuse to close a session whose operations are
      // still on their way to Canceled: ask again shortly.
      Effect.retry({
        while: operationInTransition,
        schedule: Schedule.spaced("200 millis"),
        times: 50
      }),
      Effect.as("session released"),
      Effect.catch((error) =>
        Effect.succeed(
          error._tag === "SparkUnsupported"
            ? `session left to the server's idle timeout (${error.message})`
            : `session release failed: ${error.message}`
        )
      )
    )
    const described = (ids: ReadonlyArray<string>) =>
      ends.filter(({ id }) => ids.includes(id)).map(({ id, end }) => `${id} (${endText[end]})`)
    return { stopped: described(stopped), earlier: described(earlier), released }
  }).pipe(
    Effect.scoped,
    Effect.provide(NodeServices.layer),
    Effect.catch((error) =>
      "errorClass" in error && sessionGone(error)
        ? Effect.succeed({ stopped: [], earlier: [], released: "session already gone" })
        : Effect.fail(error)
    )
  )

// How the server says an operation of the session is between two states (on its way to
// Canceled, or not yet started): 4.2 with an error class; 4.0 and 4.1 with a bare
// IllegalStateException whose text is all that names the case ("operationId: … with status
// ReadyForExecution is not within statuses List(Finished, Failed, Canceled) for event Closed").
// Only decides whether to ask again.
const operationInTransition = (error: {
  readonly errorClass?: string | undefined
  readonly classes: ReadonlyArray<string>
  readonly message: string
}): boolean =>
  error.errorClass?.startsWith("SPARK_CONNECT_ILLEGAL_STATE") === true ||
  error.classes.includes("java.lang.IllegalStateException") ||
  /is not within statuses .* for event Closed/s.test(error.message)

// What the log line says of each operation the fence interrupted.
const endText: Record<SparkSession.OperationEnd, string> = {
  ended: "ended",
  answered: "answered before the fence",
  unknown: "its end not seen"
}

/** Operations the fence interrupted whose end the server did not show in time. */
class StillRunning extends Data.TaggedError("StillRunning")<{
  readonly operations: ReadonlyArray<string>
  readonly message: string
}> {}

interface Fenced {
  /** Each operation interrupted, with what the server showed of its end. */
  readonly stopped: ReadonlyArray<string>
  /** The same for those an earlier fence had interrupted. */
  readonly earlier: ReadonlyArray<string>
  /** What became of the session, for the log line. */
  readonly released: string
}

const listed = (described: ReadonlyArray<string>) => (described.length > 0 ? `: ${described.join(", ")}` : "")

/** Fences a predecessor's engine session on `remote` within `timeout`. */
export const predecessor =
  (remote: string, timeout: Duration.Duration) =>
  (record: Ledger.Record): Effect.Effect<void, Failure.EngineUnreachable> => {
    const sessionId = record.engineSessionId
    if (sessionId === undefined) {
      return Effect.logInfo(`run ${record.runId}: no shared Spark session to fence`)
    }
    // The run used a shared server but this command was given none: nothing can be proven.
    if (!ConnectionString.isShared(remote)) {
      return Effect.fail(
        new Failure.EngineUnreachable({
          code: "FENCE_FAILED",
          message: `run ${record.runId} used Spark session ${sessionId} on a shared server, but the remote given here is ${remote}; give the job's --remote to fence it`,
          restartable: true
        })
      )
    }
    const kind = record.status === "running" ? "crashed" : record.status
    return session(remote, sessionId, {
      timeout,
      retryBudget: timeout,
      pending: record.pendingOperations ?? []
    }).pipe(
      Effect.flatMap(({ stopped, earlier, released }) =>
        Effect.logWarning(
          `fenced ${kind} run ${record.runId}: session ${sessionId}, ${stopped.length} operation(s) interrupted${listed(stopped)}${earlier.length > 0 ? `; ${earlier.length} interrupted by an earlier fence${listed(earlier)}` : ""}; ${released}`
        )
      ),
      Effect.mapError(
        (error) =>
          new Failure.EngineUnreachable({
            code: "FENCE_FAILED",
            message: `could not fence ${kind} run ${record.runId} (session ${sessionId}): ${error.message}; it keeps the batch until a run fences it, and no target was touched`,
            restartable: true,
            // Kept in the run's ledger record: the next fence waits for them too.
            ...(error instanceof StillRunning ? { pendingOperations: error.operations } : {})
          })
      )
    )
  }

// How long a run's own fence tries again after a refused or broken connection. The run is
// ending, and a server that refuses connections runs nothing of it; the next run fences what
// this one could not, with its whole deadline. Waiting the whole deadline here too would only
// delay the exit code (by 5 s with `--spark-timeout 5`) after the run already spent its retry
// budget on that server.
const selfRetryBudget = Duration.seconds(1)

/**
 * This run's own fence, when it ends without a clean finish: interrupt whatever its session
 * still runs and follow each to its end, with those its rules interrupted without seeing their
 * end (`unsettled`: Spark 3.5 and 4.2 would not name them to this interrupt again), each call within
 * `timeout`, a refused connection tried again for a second. Confirmed when the server showed
 * every end (or the engine dies with this process); otherwise the run is recorded unfenced, with
 * the operations whose end it did not see.
 */
export const self = (
  remote: string,
  sessionId: string,
  timeout: () => Duration.Duration,
  unsettled: Effect.Effect<ReadonlyArray<string>>
): Effect.Effect<Run.SelfFence> =>
  !ConnectionString.isShared(remote)
    ? Effect.succeed({ confirmed: true })
    : Effect.flatMap(unsettled, (pending) => {
        const deadline = timeout()
        return session(remote, sessionId, {
          timeout: deadline,
          retryBudget: Duration.min(deadline, selfRetryBudget),
          pending
        }).pipe(
          Effect.tap(({ stopped, earlier }) =>
            stopped.length + earlier.length > 0
              ? Effect.logWarning(
                  `stopped ${stopped.length} operation(s) of this run on the server${listed(stopped)}${earlier.length > 0 ? `; ${earlier.length} its rules had interrupted${listed(earlier)}` : ""}`
                )
              : Effect.void
          ),
          Effect.as<Run.SelfFence>({ confirmed: true }),
          Effect.catch((error) =>
            Effect.as(Effect.logError(`could not stop this run's work on the server: ${error.message}`), {
              confirmed: false,
              // What it saw still running; or, when it could not look at all (the server out of
              // reach, a deadline), everything its rules left unsettled, for the next fence.
              pendingOperations: error instanceof StillRunning ? error.operations : pending
            })
          )
        )
      })
