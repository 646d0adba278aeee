/**
 * Fencing a crashed predecessor: attach to its Spark session by id, interrupt every operation
 * it left running, and release the session, so no zombie query writes into the targets this
 * run is about to clean. A session the server no longer knows has nothing left to stop; a
 * server that cannot be reached fails the fence, and the predecessor keeps the batch's lock
 * until a later attempt fences it.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Duration, Effect } from "effect"
import { Failure, type Ledger } from "@spark-etl/core"
import { SparkSession } from "@spark-etl/runner-spark-connect"

/** `remote` with its session pinned to `sessionId` (only for `sc://` remotes). */
export const withSessionId = (remote: string, sessionId: string): string => {
  if (!remote.startsWith("sc://")) return remote
  const at = remote.indexOf("/;")
  const base = (at >= 0 ? remote.slice(0, at) : remote).replace(/\/$/, "")
  const params = (at >= 0 ? remote.slice(at + 2) : "")
    .split(";")
    .filter((p) => p.length > 0 && !p.startsWith("session_id="))
  return `${base}/;${[...params, `session_id=${sessionId}`].join(";")}`
}

/** Whether runs on this remote outlive their process (an embedded `local` server does not). */
export const isShared = (remote: string): boolean => remote.startsWith("sc://")

// The server was not reached: nothing is known of the zombie, so the fence failed.
const unreachable = new Set(["SparkUnavailable", "SparkDeadlineExceeded"])

/** Fences a predecessor's engine session on `remote` within `timeout`. */
export const predecessor =
  (remote: string, timeout: Duration.Duration) =>
  (record: Ledger.Record): Effect.Effect<void, Failure.EngineUnreachable> => {
    const sessionId = record.engineSessionId
    if (sessionId === undefined || !isShared(remote)) {
      return Effect.logInfo(`crashed run ${record.runId}: no shared Spark session to fence`)
    }
    return Effect.gen(function* () {
      const session = yield* SparkSession.make({
        remote: withSessionId(remote, sessionId),
        rpcTimeout: timeout,
        retry: { budget: timeout }
      })
      const stopped = yield* session.interrupt("all")
      yield* Effect.logWarning(
        `fenced crashed run ${record.runId}: session ${sessionId}, ${stopped.length} operation(s) interrupted${stopped.length > 0 ? `: ${stopped.join(", ")}` : ""}; session released`
      )
    }).pipe(
      Effect.scoped,
      Effect.provide(NodeServices.layer),
      Effect.catch((error) =>
        unreachable.has(error._tag)
          ? Effect.fail(
              new Failure.EngineUnreachable({
                code: "FENCE_FAILED",
                message: `could not fence crashed run ${record.runId} (session ${sessionId}): ${error.message}; it keeps the batch until a run fences it`,
                restartable: true
              })
            )
          : Effect.logWarning(
              `crashed run ${record.runId}: session ${sessionId} not fenced (${error.message}); nothing of it runs there`
            )
      )
    )
  }
