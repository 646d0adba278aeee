/**
 * The durable outbox: events Kafka did not acknowledge in time, one structured CloudEvent per
 * line, appended and fsync'd before the caller goes on. Draining delivers the lines in order,
 * chunk by chunk, removing each chunk only once Kafka acknowledged it: delivery is at least
 * once, and consumers deduplicate by the CloudEvents id. A line that does not decode (a torn
 * write, a hand edit) is moved to `<outbox>.quarantine` and never blocks the others.
 */
import { AtomicFile } from "@spark-etl/core/fs"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Option from "effect/Option"
import * as nodePath from "node:path"
import * as CloudEvent from "../CloudEvent.js"
import { withLock } from "./fileLock.js"
import { OutboxError } from "../ReporterError.js"

/** A decodable outbox line. */
interface Entry {
  /** 1-based line number in the outbox file when it was read. */
  readonly line: number
  readonly envelope: CloudEvent.Envelope
  readonly record: CloudEvent.KafkaRecord
}

/** A line that does not decode, with the reason. */
interface Corrupt {
  readonly line: number
  readonly text: string
  readonly reason: string
}

/** What the outbox holds. */
interface Contents {
  readonly entries: ReadonlyArray<Entry>
  readonly corrupt: ReadonlyArray<Corrupt>
}

/** What a drain did; `failure` is why it stopped early, if it did. */
export interface DrainResult<E = unknown> {
  readonly delivered: number
  readonly remaining: number
  readonly quarantined: number
  readonly failure: Option.Option<E>
}

/** The outbox operations; every one holds the outbox lock while it touches the file. */
export interface Outbox {
  readonly path: string
  readonly quarantinePath: string
  /** Appends records (in order) and fsyncs them before succeeding. */
  readonly append: (records: ReadonlyArray<CloudEvent.KafkaRecord>) => Effect.Effect<void, OutboxError>
  /** Whether there is nothing to deliver; cheap (a stat). */
  readonly isEmpty: Effect.Effect<boolean, OutboxError>
  /** Reads and decodes every line, without changing the file. */
  readonly read: Effect.Effect<Contents, OutboxError>
  /**
   * Quarantines corrupt lines, then hands the others to `deliver` in order, in chunks of at
   * most `chunkSize` records and `chunkBytes` bytes (never less than one record), dropping each
   * chunk from the file once `deliver` succeeded. Stops at the first failure of `deliver` and
   * says so in the result.
   */
  readonly drain: <E>(
    deliver: (records: ReadonlyArray<CloudEvent.KafkaRecord>) => Effect.Effect<void, E>,
    options?: { readonly chunkSize?: number; readonly chunkBytes?: number }
  ) => Effect.Effect<DrainResult<E>, OutboxError>
}

/** Options of `make`. */
export interface Options {
  /** How long to wait for another process holding the outbox lock (default 10 s). */
  readonly lockWait?: Duration.Input
}

const defaultChunkSize = 500
// Well under the broker's default message.max.bytes (1 MiB): one chunk is one produce batch.
const defaultChunkBytes = 512 * 1024

// How many items from `start` fit in one chunk (at least one, so a big event still goes).
const chunkEnd = <A>(
  items: ReadonlyArray<A>,
  record: (item: A) => Pick<CloudEvent.KafkaRecord, "value">,
  start: number,
  maxCount: number,
  maxBytes: number
): number => {
  let end = start
  let bytes = 0
  while (end < items.length && end - start < maxCount) {
    const size = Buffer.byteLength(record(items[end]!).value, "utf8")
    if (end > start && bytes + size > maxBytes) break
    bytes += size
    end++
  }
  return end
}

/**
 * `items` cut in order into chunks of one produce request each, as the outbox's drain cuts its
 * lines: at most 500 records and 512 KiB (a bigger record goes alone).
 */
export const chunks = <A>(
  items: ReadonlyArray<A>,
  record: (item: A) => Pick<CloudEvent.KafkaRecord, "value">
): ReadonlyArray<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let start = 0; start < items.length;) {
    const end = chunkEnd(items, record, start, defaultChunkSize, defaultChunkBytes)
    out.push(items.slice(start, end))
    start = end
  }
  return out
}

const parseLines = (text: string): Effect.Effect<Contents> =>
  Effect.gen(function* () {
    const pieces = text.split("\n")
    // Every complete line ends with "\n"; a last piece without one is a torn append.
    const tail = pieces.pop() ?? ""
    const entries: Array<Entry> = []
    const corrupt: Array<Corrupt> = []
    for (const [index, line] of pieces.entries()) {
      if (line.trim() === "") continue
      const decoded = yield* CloudEvent.decode(line).pipe(Effect.result)
      if (decoded._tag === "Success") {
        entries.push({
          line: index + 1,
          envelope: decoded.success,
          record: CloudEvent.toRecord(decoded.success, line)
        })
      } else {
        corrupt.push({ line: index + 1, text: line, reason: decoded.failure.message })
      }
    }
    if (tail.trim() !== "") {
      corrupt.push({
        line: pieces.length + 1,
        text: tail,
        reason: "incomplete last line (interrupted append)"
      })
    }
    return { entries, corrupt }
  })

/**
 * An outbox at `path` (its directory is created on first append).
 *
 * @example
 * const outbox = yield* Outbox.make("/var/lib/spark-etl/outbox.jsonl")
 * yield* outbox.append([record])
 * const result = yield* outbox.drain((records) => producer.send(records))
 */
export const make = (
  path: string,
  options: Options = {}
): Effect.Effect<Outbox, never, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const dir = nodePath.dirname(path)
    const quarantinePath = `${path}.quarantine`
    const locked = withLock(fs, `${path}.lock`, options.lockWait ?? "10 seconds")
    const fail = (operation: OutboxError["operation"]) => (error: { readonly message: string }) =>
      new OutboxError({ path, operation, message: error.message })

    // Appended and fsync'd, file and directory (core's AtomicFile, as the ledger writes).
    const appendLines = (file: string, lines: ReadonlyArray<string>) =>
      fs
        .makeDirectory(dir, { recursive: true, mode: 0o700 })
        .pipe(
          Effect.andThen(AtomicFile.append(file, lines.map((l) => `${l}\n`).join(""))),
          Effect.provideService(FileSystem.FileSystem, fs)
        )

    const readText = fs.readFileString(path).pipe(
      Effect.catchIf(
        (e) => e.reason._tag === "NotFound",
        () => Effect.succeed("")
      ),
      Effect.mapError(fail("read"))
    )

    // Replaces the file atomically (temp file, fsync, rename, fsync dir); never half-done.
    const rewrite = (lines: ReadonlyArray<string>) =>
      (lines.length === 0
        ? AtomicFile.remove(path)
        : AtomicFile.write(path, lines.map((l) => `${l}\n`).join(""))
      ).pipe(Effect.provideService(FileSystem.FileSystem, fs), Effect.mapError(fail("rewrite")))

    const append: Outbox["append"] = (records) =>
      records.length === 0
        ? Effect.void
        : appendLines(
            path,
            records.map((r) => r.value)
          ).pipe(Effect.mapError(fail("append")), locked)

    const isEmpty: Outbox["isEmpty"] = fs.stat(path).pipe(
      Effect.map((info) => Number(info.size) === 0),
      Effect.catchIf(
        (e) => e.reason._tag === "NotFound",
        () => Effect.succeed(true)
      ),
      Effect.mapError(fail("read"))
    )

    const read: Outbox["read"] = readText.pipe(Effect.flatMap(parseLines), locked)

    const drain: Outbox["drain"] = (deliver, drainOptions) =>
      Effect.gen(function* () {
        const chunkSize = Math.max(1, drainOptions?.chunkSize ?? defaultChunkSize)
        const chunkBytes = drainOptions?.chunkBytes ?? defaultChunkBytes
        const { entries, corrupt } = yield* readText.pipe(Effect.flatMap(parseLines))
        if (corrupt.length > 0) {
          const at = new Date().toISOString()
          yield* appendLines(
            quarantinePath,
            corrupt.map((c) =>
              JSON.stringify({
                quarantinedAt: at,
                outbox: path,
                line: c.line,
                reason: c.reason,
                text: c.text
              })
            )
          ).pipe(Effect.mapError(fail("quarantine")))
          yield* rewrite(entries.map((e) => e.record.value))
          yield* Effect.logWarning(
            `kafka-reporter: ${corrupt.length} corrupt outbox line(s) moved to ${quarantinePath}: ${corrupt
              .map((c) => `line ${c.line}: ${c.reason}`)
              .join("; ")}`
          )
        }
        let delivered = 0
        while (delivered < entries.length) {
          const chunk = entries.slice(
            delivered,
            chunkEnd(entries, (e) => e.record, delivered, chunkSize, chunkBytes)
          )
          const sent = yield* deliver(chunk.map((e) => e.record)).pipe(Effect.result)
          if (sent._tag === "Failure") {
            return {
              delivered,
              remaining: entries.length - delivered,
              quarantined: corrupt.length,
              failure: Option.some(sent.failure)
            }
          }
          delivered += chunk.length
          yield* rewrite(entries.slice(delivered).map((e) => e.record.value))
        }
        return { delivered, remaining: 0, quarantined: corrupt.length, failure: Option.none() }
      }).pipe(locked)

    return { path, quarantinePath, append, isEmpty, read, drain }
  })
