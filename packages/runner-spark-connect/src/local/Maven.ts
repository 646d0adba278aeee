/**
 * Resolves runtime jars from Maven Central into a cache outside the work tree, once per
 * pom text and version: `mvn dependency:copy-dependencies` into a temporary folder, then an
 * atomic rename, so an interrupted fetch never leaves a half-filled cache behind.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as ChildProcess from "effect/process/ChildProcess"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { MavenError } from "./errors.js"

/** Where fetched jars live: `$SPARK_ETL_CACHE`, else `~/.cache/spark-etl`. */
export const cacheRoot = (): string =>
  process.env["SPARK_ETL_CACHE"] ?? path.join(os.homedir(), ".cache", "spark-etl")

export interface CopyDependencies {
  /** The pom whose runtime dependencies are wanted. */
  readonly pom: string
  /**
   * Folder of the jars, suffixed with `-` and a hash of the pom's text and the properties; the
   * folder is reused as is when already complete.
   */
  readonly outputDir: string
  /** `-Dname=value` properties for the pom, e.g. the version. */
  readonly properties: Readonly<Record<string, string>>
}

const completeMarker = ".complete"

// A complete folder is never refetched, so an edited pom (a new dependency) must name a new
// folder; a server still running from the old one keeps its jars. Old folders stay until removed.
const fingerprint = (request: CopyDependencies): Effect.Effect<string, MavenError> =>
  Effect.try({
    try: () =>
      createHash("sha256")
        .update(fs.readFileSync(request.pom))
        .update(JSON.stringify(Object.entries(request.properties).sort(([a], [b]) => a.localeCompare(b))))
        .digest("hex")
        .slice(0, 12),
    catch: (error) => new MavenError({ message: `cannot read ${request.pom}: ${String(error)}`, output: "" })
  })

/**
 * Returns the folder holding every runtime jar of the pom, fetching them on first use.
 *
 * @example
 * const jars = Maven.copyDependencies({ pom, outputDir: "/cache/spark-4.2.0/jars", properties: { "spark.version": "4.2.0" } })
 * // jars === "/cache/spark-4.2.0/jars-3f9c0a1b2c4d"
 */
export const copyDependencies = (
  request: CopyDependencies
): Effect.Effect<string, MavenError, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    const outputDir = `${request.outputDir}-${yield* fingerprint(request)}`
    if (fs.existsSync(path.join(outputDir, completeMarker))) return outputDir
    const staging = `${outputDir}.partial-${process.pid}`
    fs.rmSync(staging, { recursive: true, force: true })
    fs.mkdirSync(path.dirname(outputDir), { recursive: true })
    const args = [
      "-B",
      "-q",
      "-f",
      request.pom,
      "dependency:copy-dependencies",
      "-DincludeScope=runtime",
      `-DoutputDirectory=${staging}`,
      ...Object.entries(request.properties).map(([k, v]) => `-D${k}=${v}`)
    ]
    const result = yield* Effect.scoped(
      Effect.gen(function* () {
        const handle = yield* ChildProcess.make("mvn", args, { stdin: "ignore" })
        const [output, exitCode] = yield* Effect.all(
          [Stream.mkString(Stream.decodeText(handle.all)), handle.exitCode],
          { concurrency: 2 }
        )
        return { output, exitCode }
      })
    ).pipe(
      Effect.mapError(
        (error) =>
          new MavenError({ message: `could not run mvn (is Maven installed?): ${error.message}`, output: "" })
      )
    )
    if (result.exitCode !== 0) {
      fs.rmSync(staging, { recursive: true, force: true })
      return yield* new MavenError({
        message: `mvn exited with ${result.exitCode} resolving ${request.pom}`,
        output: result.output.slice(-4000)
      })
    }
    fs.writeFileSync(path.join(staging, completeMarker), new Date().toISOString())
    fs.rmSync(outputDir, { recursive: true, force: true })
    fs.renameSync(staging, outputDir)
    return outputDir
  })
