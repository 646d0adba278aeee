/**
 * Cross-process lock files, shared by the run ledger and the Kafka outbox.
 *
 * A lock is a file whose content names its owner: `{ pid, host, token, createdAt }` (plus the
 * caller's own fields). It is written to a temporary file, fsync'd and hard-linked into place,
 * so it never exists empty or half-written, and `link` fails when the lock exists: exactly one
 * creator wins.
 *
 * A lock is stale when its owner is on this host and its process is gone, or, whoever holds it,
 * when it was not refreshed (its mtime) for `staleAfter`. Breaking a stale lock must happen once:
 * two waiters that both saw it stale must not both remove it, or the second would remove the
 * lock the first just took. So a breaker first claims that very lock — its identity is a hash of
 * its inode and content — by creating `<lock>.break.<identity>` exclusively, then checks that the
 * lock is still that one, renames it to a tombstone of its own and checks the tombstone before
 * removing it. The claim is removed only once the stale lock is gone from its path, so a waiter
 * that comes late either fails to claim or finds a lock of another identity and leaves it alone.
 * A breaker that died while breaking leaves its claim; that claim is itself a lock (it names its
 * owner) and is broken the same way once stale.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { createHash } from "node:crypto"
import * as Os from "node:os"
import { FileLockError, LockBusy } from "../Errors.js"

/** The owner written in a lock this module creates. */
export interface Owner {
  readonly pid: number
  readonly host: string
  /** Unique to this acquisition: tells this lock from a later one of the same process. */
  readonly token: string
  readonly createdAt: string
}

/** The owner named in a lock found on disk; older writers left no token nor date. */
export const Holder = Schema.Struct({
  pid: Schema.Number,
  host: Schema.String,
  token: Schema.optionalKey(Schema.String),
  createdAt: Schema.optionalKey(Schema.String)
})
export type Holder = typeof Holder.Type

const HolderJson = Schema.fromJsonString(Holder)

/** A lock file as read: one particular file, told from a later one at the same path by `identity`. */
export interface Seen {
  readonly path: string
  readonly text: string
  /** Its owner, when the content names one (a torn or foreign file does not). */
  readonly holder: Option.Option<Holder>
  /** Milliseconds since it was created or last refreshed (its mtime), by the Effect clock. */
  readonly ageMs: number
  /** A hash of its inode and content. */
  readonly identity: string
}

/** A lock this process holds. */
export interface Lock {
  readonly path: string
  readonly owner: Owner
}

/** When a lock is stale. */
export interface StaleOptions {
  /** This host: a holder's process is checked only on its own host. Default `os.hostname()`. */
  readonly host?: string
  /** A lock not refreshed for this long is stale, whoever holds it; default 30 seconds. */
  readonly staleAfter?: Duration.Input
  /** Whether a process of this host is alive; default {@link processIsAlive}. */
  readonly isAlive?: (pid: number) => boolean
}

/** Who takes a lock, and what happens around it. */
export interface LockOptions extends StaleOptions {
  /** The owner's pid as written in the lock; default this process's. */
  readonly pid?: number
  /** Fields written beside the owner, for those who read the lock (a run id, say). */
  readonly fields?: Readonly<Record<string, string | number | boolean>>
  /** Told of each stale lock this caller broke; default a warning in the log. */
  readonly onBreak?: (stale: Seen) => Effect.Effect<void>
}

/** How long to wait for a lock, and how to keep it. */
export interface AcquireOptions extends LockOptions {
  /** How long to wait for another holder; default 10 seconds. */
  readonly wait?: Duration.Input
  /** Pause between attempts (plus up to as much again, at random); default 20 ms. */
  readonly retryEvery?: Duration.Input
  /** How often the holder refreshes its lock's mtime; default a third of `staleAfter`. */
  readonly refreshEvery?: Duration.Input
}

/** Whether process `pid` of this host is alive. */
export const processIsAlive = (pid: number): boolean => {
  // kill(0) and negative pids signal process groups: never a lock owner.
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as { code?: string }).code === "EPERM"
  }
}

interface Resolved {
  readonly pid: number
  readonly host: string
  readonly staleAfterMs: number
  readonly isAlive: (pid: number) => boolean
}

const resolve = (options: LockOptions): Resolved => ({
  pid: options.pid ?? process.pid,
  host: options.host ?? Os.hostname(),
  staleAfterMs: Duration.toMillis(options.staleAfter ?? Duration.seconds(30)),
  isAlive: options.isAlive ?? processIsAlive
})

const failWith = (path: string) => (e: { readonly message: string }) =>
  new FileLockError({ path, message: e.message })

const nowMillis = Effect.clockWith((c) => c.currentTimeMillis)

/** Describes a holder for messages: "pid 42 on etl-host-1 since …". */
export const describe = (holder: Option.Option<Holder>): string =>
  Option.match(holder, {
    onNone: () => "an unknown holder (unreadable lock)",
    onSome: (h) => `pid ${h.pid} on ${h.host}${h.createdAt !== undefined ? ` since ${h.createdAt}` : ""}`
  })

/** A new owner: this acquisition's token and time. */
const makeOwner = (options: Pick<LockOptions, "pid" | "host"> = {}): Effect.Effect<Owner> =>
  Effect.map(nowMillis, (ms) => ({
    pid: options.pid ?? process.pid,
    host: options.host ?? Os.hostname(),
    token: crypto.randomUUID(),
    createdAt: new Date(ms).toISOString()
  }))

/**
 * Creates `path` holding `text` only if it does not exist yet; false if it does. The text goes
 * to a temporary file first, fsync'd, then hard-linked into place: the file never exists empty,
 * even when the process dies half-way (an empty lock names nobody and would have to wait out
 * `staleAfter`).
 */
const createExclusive = (
  path: string,
  text: string
): Effect.Effect<boolean, FileLockError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const temp = `${path}.${process.pid}.${crypto.randomUUID()}.tmp`
    yield* Effect.scoped(
      Effect.gen(function* () {
        const handle = yield* fs.open(temp, { flag: "wx" })
        yield* handle.writeAll(new TextEncoder().encode(text))
        yield* handle.sync
      })
    ).pipe(Effect.tapError(() => Effect.ignore(fs.remove(temp, { force: true }))))
    return yield* fs.link(temp, path).pipe(
      Effect.as(true),
      Effect.catchIf(
        (e) => e.reason._tag === "AlreadyExists",
        () => Effect.succeed(false)
      ),
      Effect.ensuring(Effect.ignore(fs.remove(temp, { force: true })))
    )
  }).pipe(Effect.uninterruptible, Effect.mapError(failWith(path)))

/**
 * Reads the lock at `path`, if there is one. Content and inode come from one open file, so the
 * identity names one file even when the lock is replaced meanwhile.
 */
export const inspect = (
  path: string
): Effect.Effect<Option.Option<Seen>, FileLockError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const now = yield* nowMillis
    const read = Effect.scoped(
      Effect.gen(function* () {
        const handle = yield* fs.open(path, { flag: "r" })
        const info = yield* handle.stat
        const size = Number(info.size)
        const bytes = size === 0 ? Option.none<Uint8Array>() : yield* handle.readAlloc(size)
        return {
          info,
          text: Option.match(bytes, { onNone: () => "", onSome: (b) => new TextDecoder().decode(b) })
        }
      })
    )
    const found = yield* read.pipe(
      Effect.map(Option.some),
      Effect.catchIf(
        (e) => e._tag === "PlatformError" && e.reason._tag === "NotFound",
        () => Effect.succeed(Option.none())
      ),
      Effect.mapError(failWith(path))
    )
    if (Option.isNone(found)) return Option.none()
    const { info, text } = found.value
    const holder = yield* Effect.option(Schema.decodeUnknownEffect(HolderJson)(text))
    const mtime = Option.match(info.mtime, { onNone: () => now, onSome: (d) => d.getTime() })
    const ino = Option.match(info.ino, { onNone: () => "", onSome: String })
    return Option.some({
      path,
      text,
      holder,
      ageMs: now - mtime,
      identity: createHash("sha256").update(`${info.dev}:${ino}\n${text}`).digest("hex").slice(0, 32)
    })
  })

/**
 * Whether a lock is stale: its owner is on this host and its process is gone, or it was not
 * refreshed for `staleAfter` (a lock naming nobody is judged by age alone).
 */
export const isStale = (seen: Seen, options: StaleOptions = {}): boolean => {
  const { host, isAlive, staleAfterMs } = resolve(options)
  const gone = Option.match(seen.holder, {
    onNone: () => false,
    onSome: (h) => h.host === host && !isAlive(h.pid)
  })
  return gone || seen.ageMs >= staleAfterMs
}

// A claim on a claim happens only when a breaker died while breaking; bounded for safety.
const maxClaimDepth = 3

const breakSeen = (
  root: string,
  seen: Seen,
  options: LockOptions,
  depth: number
): Effect.Effect<boolean, FileLockError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const me = yield* makeOwner(options)
    const claim = `${root}.break.${seen.identity}`
    if (!(yield* createExclusive(claim, JSON.stringify(me)))) {
      // Someone else is breaking this very lock; step in only if that breaker died doing it.
      const other = yield* inspect(claim)
      if (depth < maxClaimDepth && Option.isSome(other) && isStale(other.value, options)) {
        yield* breakSeen(root, other.value, options, depth + 1)
      }
      return false
    }
    return yield* Effect.gen(function* () {
      // Still the lock judged stale? A late waiter finds another one here and leaves it be.
      const current = yield* inspect(seen.path)
      if (Option.isNone(current) || current.value.identity !== seen.identity) return false
      const tomb = `${seen.path}.${me.token}.tomb`
      const moved = yield* fs.rename(seen.path, tomb).pipe(
        Effect.as(true),
        Effect.catchIf(
          (e) => e.reason._tag === "NotFound",
          () => Effect.succeed(false)
        ),
        Effect.mapError(failWith(seen.path))
      )
      if (!moved) return false
      const buried = yield* inspect(tomb)
      if (Option.isSome(buried) && buried.value.identity === seen.identity) {
        yield* fs.remove(tomb, { force: true }).pipe(Effect.mapError(failWith(tomb)))
        return true
      }
      // Its owner was alive after all and replaced it between the check and the rename: give
      // the newer lock back.
      yield* fs
        .link(tomb, seen.path)
        .pipe(
          Effect.catch((e) =>
            Effect.logWarning(`file lock: could not restore ${seen.path} moved while breaking: ${e.message}`)
          )
        )
      yield* Effect.ignore(fs.remove(tomb, { force: true }))
      return false
    }).pipe(
      // Only now that the stale lock is gone from its path may another waiter claim it.
      Effect.ensuring(Effect.ignore(fs.remove(claim, { force: true })))
    )
  }).pipe(Effect.uninterruptible)

/**
 * Removes the stale lock `seen` — that very file, not a newer one at the same path — if no one
 * else does: of all callers that saw it, exactly one gets true. The caller judged it stale.
 */
export const breakStale = (
  seen: Seen,
  options: LockOptions = {}
): Effect.Effect<boolean, FileLockError, FileSystem.FileSystem> => breakSeen(seen.path, seen, options, 0)

/** Takes the lock if it is free, without breaking anything: the lock, or none if it exists. */
export const tryCreate = (
  path: string,
  options: Pick<LockOptions, "pid" | "host" | "fields"> = {}
): Effect.Effect<Option.Option<Lock>, FileLockError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const owner = yield* makeOwner(options)
    const created = yield* createExclusive(path, JSON.stringify({ ...options.fields, ...owner }))
    return created ? Option.some({ path, owner }) : Option.none()
  })

/** One attempt at a lock: taken, or held by someone (as found last, if it could be read). */
export type Attempt =
  | { readonly _tag: "Acquired"; readonly lock: Lock }
  | { readonly _tag: "Held"; readonly holder: Option.Option<Seen> }

const defaultOnBreak = (stale: Seen) =>
  Effect.logWarning(`file lock: broke the stale lock ${stale.path} of ${describe(stale.holder)}`)

/**
 * Tries once to take the lock at `path`, breaking it first if it is stale. Uninterruptible (a
 * few file operations), so a lock taken is always returned to the caller.
 */
export const tryAcquire = (
  path: string,
  options: LockOptions = {}
): Effect.Effect<Attempt, FileLockError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    let last = Option.none<Seen>()
    // A second and third pass follow a release or a break seen in between.
    for (let pass = 0; pass < 3; pass++) {
      const created = yield* tryCreate(path, options)
      if (Option.isSome(created)) return { _tag: "Acquired", lock: created.value } as const
      last = yield* inspect(path)
      if (Option.isNone(last)) continue
      if (!isStale(last.value, options)) break
      if (yield* breakStale(last.value, options)) yield* (options.onBreak ?? defaultOnBreak)(last.value)
    }
    return { _tag: "Held", holder: last } as const
  }).pipe(Effect.uninterruptible)

/** Whether `lock` is still this process's (its token is in the file). */
const stillOurs = (lock: Lock) =>
  inspect(lock.path).pipe(
    Effect.map((seen) =>
      Option.exists(
        Option.flatMap(seen, (s) => s.holder),
        (h) => h.token === lock.owner.token
      )
    )
  )

/**
 * Removes `lock` if it is still ours. A lock broken as stale and taken by someone else is left
 * to them.
 */
export const release = (lock: Lock): Effect.Effect<void, never, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    if (yield* stillOurs(lock)) yield* fs.remove(lock.path, { force: true })
    else yield* Effect.logWarning(`file lock: ${lock.path} was no longer ours at release`)
  }).pipe(
    Effect.catch((e) => Effect.logWarning(`file lock: could not release ${lock.path}: ${e.message}`)),
    Effect.uninterruptible
  )

/** Touches `lock` (its mtime) so no one judges it stale by age; false if it is no longer ours. */
const refresh = (lock: Lock): Effect.Effect<boolean, FileLockError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    if (!(yield* stillOurs(lock))) return false
    const now = yield* nowMillis
    yield* fs.utimes(lock.path, new Date(now), new Date(now)).pipe(Effect.mapError(failWith(lock.path)))
    return true
  })

/**
 * Takes the lock at `path` for the scope, waiting up to `wait` for another holder and breaking
 * a stale one. While held it is refreshed, and the scope's end releases it.
 *
 * @example
 * yield* Effect.scoped(Effect.andThen(FileLock.acquire("/var/lib/x/state.lock"), work))
 */
export const acquire = (
  path: string,
  options: AcquireOptions = {}
): Effect.Effect<Lock, FileLockError | LockBusy, FileSystem.FileSystem | Scope.Scope> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      const waitMs = Duration.toMillis(options.wait ?? Duration.seconds(10))
      const retryMs = Duration.toMillis(options.retryEvery ?? Duration.millis(20))
      const staleAfterMs = resolve(options).staleAfterMs
      const deadline = (yield* nowMillis) + waitMs
      for (;;) {
        const attempt = yield* tryAcquire(path, options)
        if (attempt._tag === "Acquired") {
          const lock = attempt.lock
          yield* Effect.addFinalizer(() => release(lock))
          const every = Duration.millis(Duration.toMillis(options.refreshEvery ?? staleAfterMs / 3))
          yield* Effect.suspend(() => refresh(lock)).pipe(
            Effect.delay(every),
            Effect.repeat({ while: (ours) => ours }),
            Effect.tap(() => Effect.logWarning(`file lock: ${path} was taken from this process`)),
            Effect.catch((e) => Effect.logWarning(`file lock: refreshing ${path} failed: ${e.message}`)),
            // Forked inside this uninterruptible region, the refresher must be interruptible itself.
            Effect.interruptible,
            Effect.forkScoped
          )
          return lock
        }
        if ((yield* nowMillis) >= deadline) {
          const holder = Option.flatMap(attempt.holder, (s) => s.holder)
          return yield* new LockBusy({
            path,
            holder,
            message: `${path} is held by ${describe(holder)}; waited ${Duration.format(Duration.millis(waitMs))}`
          })
        }
        const jitter = yield* Random.nextIntBetween(0, Math.max(1, retryMs))
        yield* restore(Effect.sleep(Duration.millis(retryMs + jitter)))
      }
    })
  )

/** Runs `self` holding the lock at `path` (see {@link acquire}). */
export const withLock =
  (path: string, options: AcquireOptions = {}) =>
  <A, E, R>(
    self: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | FileLockError | LockBusy, R | FileSystem.FileSystem> =>
    Effect.scopedWith((scope) => acquire(path, options).pipe(Scope.provide(scope), Effect.andThen(self)))
