/**
 * The lock file shared by every process that touches one outbox (a running batch and an
 * operator's flush command). Without it a drain's rewrite could drop a line another process
 * appended. It is core's FileLock (the same lock as the run ledger's): the owner's pid, host and
 * token written before the lock exists, broken by exactly one waiter once its owner is gone from
 * this host or it went unrefreshed for `staleAfter`.
 */
import { FileLock } from "@spark-etl/core/fs"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Scope from "effect/Scope"
import * as nodePath from "node:path"
import { OutboxError } from "../ReporterError.js"

/**
 * Runs `self` holding the lock file, waiting at most `wait` for another holder to finish.
 *
 * @example
 * yield* rewrite.pipe(withLock(fs, "/var/spark-etl/outbox.jsonl.lock", "10 seconds"))
 */
export const withLock =
  (fs: FileSystem.FileSystem, lockPath: string, wait: Duration.Input) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | OutboxError, R> =>
    Effect.scopedWith((scope) =>
      fs.makeDirectory(nodePath.dirname(lockPath), { recursive: true }).pipe(
        Effect.andThen(
          FileLock.acquire(lockPath, {
            wait,
            onBreak: (stale) =>
              Effect.logWarning(
                `kafka-reporter: broke the stale outbox lock ${stale.path} of ${FileLock.describe(stale.holder)}`
              )
          })
        ),
        Effect.provideService(FileSystem.FileSystem, fs),
        Scope.provide(scope),
        Effect.mapError(
          (e) =>
            new OutboxError({
              path: lockPath,
              operation: "lock",
              message:
                e._tag === "LockBusy"
                  ? `another process held the outbox lock (${FileLock.describe(e.holder)}) for ${Duration.format(Duration.fromInputUnsafe(wait))}`
                  : e.message
            })
        ),
        Effect.andThen(self)
      )
    )
