/**
 * A lock file shared by every process that touches one outbox (a running batch and an
 * operator's flush command): created with O_EXCL, holding the owner's pid, broken when that
 * process is gone. Without it a drain's rewrite could drop a line another process appended.
 */
import { Data, Duration, Effect, FileSystem, Schedule } from "effect"
import * as nodePath from "node:path"
import { OutboxError } from "../ReporterError.js"

// A lock file older than this with no readable pid was left by a crash between create and write.
const unreadableStaleAfterMs = 10_000

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

class Busy extends Data.TaggedError("Busy") {}

const lockError = (path: string, message: string) => new OutboxError({ path, operation: "lock", message })

const tryAcquire = (fs: FileSystem.FileSystem, lockPath: string): Effect.Effect<void, Busy | OutboxError> =>
  fs.writeFileString(lockPath, `${process.pid}\n`, { flag: "wx" }).pipe(
    Effect.catchTag("PlatformError", (error): Effect.Effect<never, Busy | OutboxError> => {
      if (error.reason._tag !== "AlreadyExists") return Effect.fail(lockError(lockPath, error.message))
      return Effect.gen(function* () {
        const text = yield* fs.readFileString(lockPath).pipe(Effect.orElseSucceed(() => ""))
        const pid = Number.parseInt(text.trim(), 10)
        const stat = yield* fs.stat(lockPath).pipe(Effect.option)
        const ageMs =
          stat._tag === "Some" && stat.value.mtime._tag === "Some"
            ? Date.now() - stat.value.mtime.value.getTime()
            : 0
        const stale = Number.isInteger(pid) && pid > 0 ? !isAlive(pid) : ageMs > unreadableStaleAfterMs
        if (stale) {
          yield* fs.remove(lockPath, { force: true }).pipe(Effect.ignore)
        }
        return yield* Effect.fail(new Busy())
      })
    })
  )

/**
 * Runs `self` holding the lock file, waiting at most `wait` for another holder to finish.
 *
 * @example
 * yield* rewrite.pipe(withLock(fs, "/var/spark-etl/outbox.jsonl.lock", "10 seconds"))
 */
export const withLock =
  (fs: FileSystem.FileSystem, lockPath: string, wait: Duration.Input) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | OutboxError, R> =>
    Effect.acquireUseRelease(
      fs.makeDirectory(nodePath.dirname(lockPath), { recursive: true }).pipe(
        Effect.mapError((e) => lockError(lockPath, e.message)),
        Effect.andThen(tryAcquire(fs, lockPath)),
        Effect.retry({ while: (e) => e instanceof Busy, schedule: Schedule.spaced("20 millis") }),
        Effect.timeoutOrElse({
          duration: wait,
          orElse: () =>
            Effect.fail(
              lockError(
                lockPath,
                `another process held the outbox lock for ${Duration.format(Duration.fromInputUnsafe(wait))}`
              )
            )
        }),
        Effect.catchIf(
          (e): e is Busy => e instanceof Busy,
          () => Effect.fail(lockError(lockPath, "outbox lock busy"))
        )
      ),
      () => self,
      () => fs.remove(lockPath, { force: true }).pipe(Effect.ignore)
    )
