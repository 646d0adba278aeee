/**
 * Resolves runtime jars from Maven Central into a cache outside the work tree, once per
 * version: `mvn dependency:copy-dependencies` into a temporary folder, then an atomic rename,
 * so an interrupted fetch never leaves a half-filled cache behind.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { ChildProcess } from "effect/process"
import type { ChildProcessSpawner } from "effect/process"
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
  /** Final folder of the jars; reused as is when already complete. */
  readonly outputDir: string
  /** `-Dname=value` properties for the pom, e.g. the version. */
  readonly properties: Readonly<Record<string, string>>
}

const completeMarker = ".complete"

/**
 * Returns the folder holding every runtime jar of the pom, fetching them on first use.
 *
 * @example
 * const jars = Maven.copyDependencies({ pom, outputDir: "/cache/spark-4.2.0/jars", properties: { "spark.version": "4.2.0" } })
 */
export const copyDependencies = (
  request: CopyDependencies
): Effect.Effect<string, MavenError, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    if (fs.existsSync(path.join(request.outputDir, completeMarker))) return request.outputDir
    const staging = `${request.outputDir}.partial-${process.pid}`
    fs.rmSync(staging, { recursive: true, force: true })
    fs.mkdirSync(path.dirname(request.outputDir), { recursive: true })
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
    fs.rmSync(request.outputDir, { recursive: true, force: true })
    fs.renameSync(staging, request.outputDir)
    return request.outputDir
  })
