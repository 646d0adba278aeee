/**
 * Durable file writes shared by the run ledger and the Kafka outbox. A replacement goes to a
 * temporary file in the same directory (rename is atomic only within one filesystem), is
 * fsync'd, renamed over the target, and then the directory is fsync'd: without that last step
 * a crash can bring back the old entry (or none) even though the new content was on disk.
 */
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as NodePath from "node:path"
import { AtomicFileError } from "../Errors.js"

const encode = (data: string | Uint8Array): Uint8Array =>
  typeof data === "string" ? new TextEncoder().encode(data) : data

const failWith = (path: string) => (e: { readonly message: string }) =>
  new AtomicFileError({ path, message: e.message })

/** Makes the directory's entries (created, renamed or removed files) durable. */
const syncDirectory = (dir: string): Effect.Effect<void, AtomicFileError, FileSystem.FileSystem> =>
  FileSystem.FileSystem.pipe(
    Effect.flatMap((fs) => Effect.scoped(Effect.flatMap(fs.open(dir, { flag: "r" }), (d) => d.sync))),
    Effect.mapError(failWith(dir))
  )

/** Writes `data` to a new file `file` (which must not exist) and fsyncs it. */
const writeNew = (fs: FileSystem.FileSystem, file: string, data: Uint8Array) =>
  Effect.scoped(
    Effect.gen(function* () {
      // What the ledger and the outbox hold (parameters, failures) is the owner's business only.
      const handle = yield* fs.open(file, { flag: "wx", mode: 0o600 })
      yield* handle.writeAll(data)
      yield* handle.sync
    })
  )

/**
 * Replaces `file` with `data` atomically and durably: a reader sees the old content or the
 * new, never a mix, and after a crash the new content is there once this succeeded. Never
 * stops half-way (an interrupted write would leave its temporary file behind), and removes its
 * temporary file when it fails.
 */
export const write = (
  file: string,
  data: string | Uint8Array
): Effect.Effect<void, AtomicFileError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    // Unique, so two writers (two processes, or two fibers) never share a temporary file.
    const temp = `${file}.${process.pid}.${crypto.randomUUID()}.tmp`
    yield* writeNew(fs, temp, encode(data)).pipe(
      Effect.andThen(fs.rename(temp, file)),
      Effect.tapError(() => Effect.ignore(fs.remove(temp, { force: true }))),
      Effect.mapError(failWith(file))
    )
    yield* syncDirectory(NodePath.dirname(file))
  }).pipe(Effect.uninterruptible)

/** Appends `data` to `file` (created if missing) and fsyncs the file and its directory. */
export const append = (
  file: string,
  data: string | Uint8Array
): Effect.Effect<void, AtomicFileError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    yield* Effect.scoped(
      Effect.gen(function* () {
        const handle = yield* fs.open(file, { flag: "a", mode: 0o600 })
        yield* handle.writeAll(encode(data))
        yield* handle.sync
      })
    ).pipe(Effect.mapError(failWith(file)))
    // The file may have just been created: its entry must survive a crash too.
    yield* syncDirectory(NodePath.dirname(file))
  }).pipe(Effect.uninterruptible)

/** Removes `file` if it exists, durably (the directory is fsync'd). */
export const remove = (file: string): Effect.Effect<void, AtomicFileError, FileSystem.FileSystem> =>
  FileSystem.FileSystem.pipe(
    Effect.flatMap((fs) => fs.remove(file, { force: true })),
    Effect.mapError(failWith(file)),
    Effect.andThen(syncDirectory(NodePath.dirname(file))),
    Effect.uninterruptible
  )
