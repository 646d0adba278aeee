/**
 * HDFS for the tests as a child JVM from Maven Central jars: Hadoop's MiniDFSCluster (one
 * NameNode and one DataNode in one process, `java/MiniHdfs.java` run as a single-file source
 * program), every port on 127.0.0.1, its storage in its own data dir (kept across restarts),
 * ready once the program reports both nodes up, stopped when its scope closes (and, through
 * the tether, when this process dies). Spark reaches it by URI: `hdfs://127.0.0.1:<port>/…`.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import { ClassArchive, LocalServer, Maven, Ready } from "@spark-etl/runner-spark-connect/local"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const infraRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

/** The Hadoop version of Spark 4.2's client. */
export const defaultHadoopVersion = "3.5.0"

export class LocalHdfsError extends Data.TaggedError("LocalHdfsError")<{
  readonly message: string
  readonly logFile?: string | undefined
}> {}

export interface Options {
  readonly hadoopVersion?: string
  /** NameNode RPC port on 127.0.0.1; 0 or absent picks a free one. */
  readonly port?: number
  readonly dataDir: string
  readonly startTimeout?: Duration.Input
}

export interface LocalHdfs {
  /** The filesystem's URI, e.g. `hdfs://127.0.0.1:40123`. */
  readonly uri: string
  readonly port: number
  readonly pid: number
  readonly logFile: string
  readonly dataDir: string
}

const tail = (file: string): string => {
  try {
    return fs.readFileSync(file, "utf8").slice(-3000)
  } catch {
    return ""
  }
}

const resolveJars = (hadoopVersion: string) =>
  Maven.copyDependencies({
    pom: path.join(infraRoot, "hdfs-pom.xml"),
    outputDir: path.join(Maven.cacheRoot(), `hdfs-${hadoopVersion}`, "libs"),
    properties: { "hadoop.version": hadoopVersion }
  })

/**
 * Starts HDFS (formatting its storage on first start); stops it when the scope closes.
 *
 * @example
 * const hdfs = yield* LocalHdfs.start({ dataDir: "/tmp/hdfs" })
 * // hdfs.uri === "hdfs://127.0.0.1:40123"
 */
export const start = (
  options: Options
): Effect.Effect<LocalHdfs, LocalHdfsError, Scope.Scope | ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    const jars = yield* resolveJars(options.hadoopVersion ?? defaultHadoopVersion).pipe(
      Effect.mapError(
        (e) => new LocalHdfsError({ message: `cannot fetch the HDFS jars: ${e.message}\n${e.output}` })
      )
    )
    const dataDir = path.resolve(options.dataDir)
    fs.mkdirSync(dataDir, { recursive: true })
    const port = options.port && options.port > 0 ? options.port : yield* LocalServer.freePort
    const logFile = path.join(dataDir, "hdfs.log")
    // Its java.io.tmpdir (below), emptied at every start: the data dir is kept across starts, and
    // each start's Jetty leaves a jetty-* folder there that no later start uses. HDFS's own data
    // is under storage/, never here.
    const scratch = path.join(dataDir, "tmp")
    fs.rmSync(scratch, { recursive: true, force: true })
    fs.mkdirSync(scratch, { recursive: true })
    // The ready line of this start only: an earlier start's is still in the log.
    const logged = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0
    const archived = yield* ClassArchive.forServer(jars).pipe(
      Effect.mapError((e) => new LocalHdfsError({ message: e.message }))
    )
    const handle = yield* LocalServer.tethered(
      logFile,
      "java",
      [
        ...archived,
        "-Xmx512m",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
        // Its web server's Jetty unpacks into java.io.tmpdir (/tmp by default, whatever TMPDIR
        // says) and leaves a folder there at every start.
        `-Djava.io.tmpdir=${scratch}`,
        "-cp",
        `${jars}/*`,
        path.join(infraRoot, "java", "MiniHdfs.java"),
        path.join(dataDir, "storage"),
        String(port)
      ],
      { cwd: dataDir }
    ).pipe(
      Effect.mapError((e) => new LocalHdfsError({ message: `cannot start java: ${e.message}`, logFile }))
    )
    const uri = `hdfs://127.0.0.1:${port}`
    yield* Ready.until({
      process: handle,
      exited: () =>
        new LocalHdfsError({ message: `HDFS exited during start-up:\n${tail(logFile)}`, logFile }),
      // MiniHdfs prints it once the NameNode is active and the DataNode registered.
      answers: Effect.try(() => fs.readFileSync(logFile, "utf8").slice(logged)).pipe(
        Effect.filterOrFail(
          (log) => log.includes(`READY ${uri}`),
          () => new LocalHdfsError({ message: "not up yet", logFile })
        )
      ),
      every: "250 millis",
      within: options.startTimeout ?? "120 seconds",
      timedOut: () =>
        new LocalHdfsError({ message: `HDFS did not come up on ${uri}:\n${tail(logFile)}`, logFile })
    })
    return { uri, port, pid: handle.pid, logFile, dataDir }
  })
