/**
 * Class data sharing for a local JVM: a server that finds no archive for its jars and its `java`
 * records the classes it loaded and has the JVM write them at a clean exit (a JDK 13+ dynamic
 * archive); later starts map that archive instead of reading some 10,000 classes out of jars.
 * Spark 4.2's server answers in about 3.8 s instead of 6.3 s here.
 *
 * The archive lives beside the jars in the cache. A truncated archive aborts the JVM that maps
 * it, so one is written under a temporary name and renamed into place only once the JVM has
 * logged that it finished writing it. An archive the JVM rejects (another build of the JDK, jars
 * that changed) is skipped by the JVM itself (`-Xshare:auto`, the default).
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { ClassArchiveError } from "./errors.js"

export interface ClassArchive {
  /** The `java` flags for this start: map the archive, or record one, or none. */
  readonly flags: ReadonlyArray<string>
  /** After the JVM exited: puts a completely written recording in place, removes the rest. */
  readonly keep: Effect.Effect<void>
}

const none: ClassArchive = { flags: [], keep: Effect.void }

// HotSpot logs this (cds+dynamic, info) after it wrote and closed the archive.
const writtenMarker = "Written dynamic archive"

/**
 * The `java` that a child process named `java` runs: the first on PATH. Its path, size and time
 * name the archive, so a JDK upgraded in place records a new one rather than keep a rejected one.
 */
const javaIdentity = (): string | undefined => {
  for (const dir of (process.env["PATH"] ?? "").split(path.delimiter)) {
    if (dir === "") continue
    try {
      const real = fs.realpathSync(path.join(dir, "java"))
      const stat = fs.statSync(real)
      if (stat.isFile()) return `${real}\n${stat.size}\n${stat.mtimeMs}`
    } catch {
      // not in this folder
    }
  }
  return undefined
}

/** Where the archive of the classes loaded from `classPathDir` by this `java` is kept. */
export const archivePath = (classPathDir: string): string | undefined => {
  const java = javaIdentity()
  if (java === undefined) return undefined
  const key = createHash("sha256").update(java).digest("hex").slice(0, 12)
  return `${classPathDir}.java-${key}.jsa`
}

/** The variable that turns the archive on (the default) or off. */
export const variable = "SPARK_ETL_CLASS_ARCHIVE"

const isSetting = Schema.is(Schema.Literals(["on", "off"]))

/**
 * What is wrong with a value of {@link variable}, if anything (unset or empty, `on` and `off` are
 * right): for a caller that refuses a job's environment before it starts a server.
 */
export const problemOf = (value: string | undefined): string | undefined =>
  value === undefined || value === "" || isSetting(value)
    ? undefined
    : `${JSON.stringify(value)} is neither on nor off`

/**
 * Whether the archive is on: `off` has every start read its classes from the jars. Read at
 * each start, not through Effect's Config, whose default provider keeps the first environment
 * it saw: a bench turns it off and on within one process.
 */
const enabled: Effect.Effect<boolean, ClassArchiveError> = Effect.suspend(() => {
  const value = process.env[variable]
  const problem = problemOf(value)
  return problem === undefined
    ? Effect.succeed(value !== "off")
    : Effect.fail(new ClassArchiveError({ message: `${variable}: ${problem}` }))
})

/** The archive of `classPathDir` when it is on and there is one. */
const existing = (classPathDir: string): Effect.Effect<string | undefined, ClassArchiveError> =>
  Effect.map(enabled, (on) => {
    const archive = on ? archivePath(classPathDir) : undefined
    return archive !== undefined && fs.existsSync(archive) ? archive : undefined
  })

const writable = (dir: string): boolean => {
  try {
    fs.accessSync(dir, fs.constants.W_OK)
    return true
  } catch {
    return false
  }
}

const remove = (file: string) => fs.rmSync(file, { force: true })

/** Maps the archive of `classPathDir` when there is one, never records: for short-lived tools beside a server. */
export const use = (classPathDir: string): Effect.Effect<ReadonlyArray<string>, ClassArchiveError> =>
  Effect.map(existing(classPathDir), (archive) =>
    archive === undefined ? [] : [`-XX:SharedArchiveFile=${archive}`]
  )

/**
 * The class archive of a JVM whose class path is the jars of `classPathDir`: used when there is
 * one; else recorded by this start, when the folder that keeps it is writable (a read-only
 * install gains nothing and pays nothing).
 */
export const prepare = (classPathDir: string): Effect.Effect<ClassArchive, ClassArchiveError> =>
  Effect.gen(function* () {
    if (!(yield* enabled)) return none
    const mapped = yield* use(classPathDir)
    if (mapped.length > 0) return { flags: mapped, keep: Effect.void }
    const archive = archivePath(classPathDir)
    if (archive === undefined || !writable(path.dirname(archive))) return none
    const recording = `${archive}.${process.pid}-${Date.now()}.tmp`
    const log = `${recording}.log`
    return {
      flags: [
        // The recording's warnings (classes it cannot archive) stay out of the server's log.
        "-Xlog:cds*=off",
        `-Xlog:cds+dynamic=info:file=${log}`,
        `-XX:ArchiveClassesAtExit=${recording}`
      ],
      keep: Effect.sync(() => {
        try {
          if (fs.existsSync(recording) && fs.readFileSync(log, "utf8").includes(writtenMarker)) {
            fs.renameSync(recording, archive)
          }
        } catch {
          // no log or no rename: the next start records again
        } finally {
          remove(recording)
          remove(log)
        }
      })
    }
  })

/**
 * {@link prepare} for a server started next in the caller's scope: its flags, with the recording
 * kept when that scope closes. Call it before starting the server, so that this finalizer runs
 * after the server's own, once the JVM has exited.
 *
 * @example
 * const flags = yield* ClassArchive.forServer(jars)
 * const handle = yield* LocalServer.tethered(logFile, "java", [...flags, "-cp", `${jars}/*`, main])
 */
export const forServer = (
  classPathDir: string
): Effect.Effect<ReadonlyArray<string>, ClassArchiveError, Scope.Scope> =>
  Effect.flatMap(prepare(classPathDir), (archive) =>
    Effect.as(
      Effect.addFinalizer(() => archive.keep),
      archive.flags
    )
  )
