/**
 * A Spark standalone cluster for the tests, from the Maven Central jars the Spark Connect server
 * uses: one master and (by default) two workers, each its own JVM under the tether, and a Spark
 * Connect server as the cluster's driver. Every port is on 127.0.0.1 (Spark's web UIs bind to
 * SPARK_LOCAL_IP, set in every JVM's environment). Ready once the master lists every worker
 * ALIVE and the Connect server answers; stopped when its scope closes (driver first, then the
 * workers, which end their executors, then the master) and, through the tether, when this
 * process dies.
 *
 * Workers start executors as Spark's launcher builds their command: `java -cp
 * $SPARK_HOME/conf:$SPARK_HOME/jars/* … CoarseGrainedExecutorBackend`. Each worker gets its own
 * SPARK_HOME whose `jars` is a symlink to the resolved jars folder, and SPARK_SCALA_VERSION,
 * which the launcher otherwise looks up in a source build's folders. The Java 17 module options
 * reach executors through `spark.executor.extraJavaOptions`, which the driver's SparkContext
 * supplements with Spark's own list (JavaModuleOptions) before it asks for executors.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import { ClassArchive, LocalServer, Ready } from "@spark-etl/runner-spark-connect/local"
import * as fs from "node:fs"
import * as path from "node:path"

export class LocalClusterError extends Data.TaggedError("LocalClusterError")<{
  readonly message: string
  readonly logFile?: string | undefined
}> {}

export interface Options {
  readonly sparkVersion?: string
  /** Own folder: the master's, each worker's and the driver's data and logs. */
  readonly dataDir: string
  /** How many workers; default 2. */
  readonly workers?: number
  /** Cores each worker offers; default 1. */
  readonly workerCores?: number
  /** Memory each worker offers its executors, e.g. `1g`; default `1g`. */
  readonly workerMemory?: string
  /** Heap of each executor; default `512m` (must fit in `workerMemory`). */
  readonly executorMemory?: string
  /** Heap of the driver (the Spark Connect server); default `1g`. */
  readonly driverHeap?: string
  /** For the whole start: master, workers and driver; default 240 s. */
  readonly startTimeout?: Duration.Input
  /** Extra settings for the driver (they reach executors too). */
  readonly conf?: Readonly<Record<string, string>>
}

export interface ClusterWorker {
  /** 0-based, in start order. */
  readonly index: number
  /** The worker JVM's pid (not the tether's). */
  readonly pid: number
  /** The tether's pid, parent of the JVM. */
  readonly tetherPid: number
  /** e.g. `http://127.0.0.1:40125`; its `/json/` lists its executors. */
  readonly webUiUrl: string
  readonly dir: string
  readonly logFile: string
}

/** The master's `/json/` (MasterStateResponse), the fields the tests read. */
export interface MasterState {
  readonly url: string
  readonly status: string
  readonly aliveworkers: number
  readonly workers: ReadonlyArray<{
    readonly id: string
    readonly host: string
    readonly port: number
    readonly webuiaddress: string
    readonly cores: number
    readonly coresused: number
    readonly state: string
  }>
  readonly activeapps: ReadonlyArray<{
    readonly id: string
    readonly name: string
    readonly cores: number
    readonly state: string
  }>
  readonly completedapps: ReadonlyArray<{ readonly id: string; readonly state: string }>
}

/** A worker's `/json/` (WorkerStateResponse), the fields the tests read. */
export interface WorkerState {
  readonly id: string
  readonly masterurl: string
  readonly cores: number
  readonly coresused: number
  readonly executors: ReadonlyArray<{ readonly id: number; readonly appid: string }>
  readonly finishedexecutors: ReadonlyArray<{ readonly id: number; readonly appid: string }>
}

export interface LocalCluster {
  /** The driver's connection string for clients: `sc://127.0.0.1:<port>`. */
  readonly remote: string
  /** `spark://127.0.0.1:<port>`. */
  readonly masterUrl: string
  /** e.g. `http://127.0.0.1:40123`; its `/json/` lists workers and applications. */
  readonly masterWebUiUrl: string
  /** The master JVM's pid (not the tether's). */
  readonly masterPid: number
  readonly masterLogFile: string
  readonly workers: ReadonlyArray<ClusterWorker>
  /** The Spark Connect server that is the cluster's driver. */
  readonly driver: LocalServer.LocalServer
  readonly dataDir: string
  /** The master's `/json/` now. */
  readonly masterState: Effect.Effect<MasterState, LocalClusterError>
  /** A worker's `/json/` now. */
  readonly workerState: (index: number) => Effect.Effect<WorkerState, LocalClusterError>
  /** SIGKILLs a worker's JVM (fault tests) and waits until it is gone; its executors then end themselves. */
  readonly killWorker: (index: number) => Effect.Effect<void, LocalClusterError>
  /** SIGKILLs the master's JVM (fault tests) and waits until it is gone. */
  readonly killMaster: Effect.Effect<void, LocalClusterError>
}

const masterClass = "org.apache.spark.deploy.master.Master"
const workerClass = "org.apache.spark.deploy.worker.Worker"

// The master and workers are plain `java` launches: they get the module flags Spark 4 needs on
// Java 17 as LocalServer's server does (executors get them from the driver's SparkContext).
const moduleFlags = LocalServer.moduleFlags

const tail = (file: string): string => {
  try {
    return fs.readFileSync(file, "utf8").slice(-3000)
  } catch {
    return ""
  }
}

/** Linux: the state letter and parent pid of a process, from /proc; undefined when gone. */
const procStat = (pid: number): { readonly state: string; readonly ppid: number } | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ")".
    const [state = "", ppid = "0"] = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return { state, ppid: Number(ppid) }
  } catch {
    return undefined
  }
}

/** Alive and not a zombie waiting for the tether to reap it. */
const running = (pid: number): boolean => {
  const stat = procStat(pid)
  return stat !== undefined && stat.state !== "Z" && stat.state !== "X"
}

/** The JVM the tether `tetherPid` started: its child whose command line names `mainClass`. */
const jvmUnder = (tetherPid: number, mainClass: string): number | undefined => {
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    const pid = Number(entry)
    if (procStat(pid)?.ppid !== tetherPid) continue
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
      if (path.basename(argv[0] ?? "") === "java" && argv.includes(mainClass)) return pid
    } catch {
      // gone meanwhile
    }
  }
  return undefined
}

const getJson = <A>(url: string): Effect.Effect<A, LocalClusterError> =>
  Effect.tryPromise({
    try: async (signal) => {
      const response = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]) })
      if (!response.ok) throw new Error(`HTTP ${response.status}`)
      return (await response.json()) as A
    },
    catch: (e) => new LocalClusterError({ message: `GET ${url}: ${String(e)}` })
  })

/** Polls `check` every 250 ms until it holds, failing after `within`. */
const waitUntil = (
  check: Effect.Effect<boolean, LocalClusterError>,
  within: Duration.Input,
  timedOut: () => LocalClusterError
): Effect.Effect<void, LocalClusterError> =>
  Ready.until({
    process: { isRunning: Effect.succeed(true) },
    exited: timedOut,
    answers: check.pipe(Effect.filterOrFail((ok) => ok)),
    every: "250 millis",
    within,
    timedOut
  })

const sigkill = (pid: number, what: string): Effect.Effect<void, LocalClusterError> =>
  Effect.suspend(() => {
    if (!running(pid))
      return Effect.fail(new LocalClusterError({ message: `${what} (pid ${pid}) is not running` }))
    try {
      process.kill(pid, "SIGKILL")
    } catch (e) {
      return Effect.fail(new LocalClusterError({ message: `cannot kill ${what} (pid ${pid}): ${String(e)}` }))
    }
    return waitUntil(
      Effect.sync(() => !running(pid)),
      "10 seconds",
      () => new LocalClusterError({ message: `${what} (pid ${pid}) still running 10 s after SIGKILL` })
    )
  })

/**
 * Starts the master, the workers and the driver; stops them all when the scope closes.
 *
 * @example
 * const cluster = yield* LocalCluster.start({ dataDir: "/tmp/cluster" })
 * // cluster.remote === "sc://127.0.0.1:41234", cluster.masterUrl === "spark://127.0.0.1:41230"
 */
export const start = (
  options: Options
): Effect.Effect<LocalCluster, LocalClusterError, Scope.Scope | ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    const sparkVersion = options.sparkVersion ?? LocalServer.defaultSparkVersion
    const jars = yield* LocalServer.resolveJars(sparkVersion).pipe(
      Effect.mapError(
        (e) =>
          new LocalClusterError({
            message: `cannot fetch Spark ${sparkVersion} jars: ${e.message}\n${e.output}`
          })
      )
    )
    const dataDir = path.resolve(options.dataDir)
    const within = options.startTimeout ?? "240 seconds"
    const workerCount = options.workers ?? 2
    const workerCores = options.workerCores ?? 1
    const deadline = Date.now() + Duration.toMillis(within)
    const remaining = () => Duration.millis(Math.max(1000, deadline - Date.now()))

    const inherited = (): Record<string, string> =>
      Object.fromEntries(
        Object.entries(process.env).flatMap(([k, v]) =>
          v === undefined || k === "SPARK_REMOTE" || k === "SPARK_CONNECT_MODE" ? [] : [[k, v]]
        )
      )

    // The Connect server's archive of the same jars: most of a master's or worker's classes.
    const archived = yield* ClassArchive.use(jars).pipe(
      Effect.mapError((e) => new LocalClusterError({ message: e.message }))
    )
    /** A JVM under the tether with Spark's environment; its pid is the tether's. */
    const daemon = (dir: string, logFile: string, args: ReadonlyArray<string>, env: Record<string, string>) =>
      LocalServer.tethered(
        logFile,
        "java",
        [
          ...archived,
          "-Xmx256m",
          ...moduleFlags,
          "-Dio.netty.tryReflectionSetAccessible=true",
          `-Djava.io.tmpdir=${path.join(dir, "tmp")}`,
          "-cp",
          `${jars}/*`,
          ...args
        ],
        {
          cwd: dir,
          // Not this process's SPARK_REMOTE: Spark's launcher, building an executor's command in
          // a worker, takes its mere presence for a Connect client and leaves spark-sql and
          // spark-sql-api off the executors' classpath.
          extendEnv: false,
          env: { ...inherited(), SPARK_LOCAL_IP: "127.0.0.1", SPARK_SCALA_VERSION: "2.13", ...env }
        }
      ).pipe(
        Effect.mapError((e) => new LocalClusterError({ message: `cannot start java: ${e.message}`, logFile }))
      )

    const jvmPid = (
      tetherPid: number,
      mainClass: string,
      logFile: string
    ): Effect.Effect<number, LocalClusterError> =>
      Effect.suspend(() => {
        const pid = jvmUnder(tetherPid, mainClass)
        return pid === undefined
          ? Effect.fail(
              new LocalClusterError({ message: `no ${mainClass} JVM under tether ${tetherPid}`, logFile })
            )
          : Effect.succeed(pid)
      })

    // The master, first: workers and the driver give up for many seconds when it is not there yet.
    const masterDir = path.join(dataDir, "master")
    fs.mkdirSync(path.join(masterDir, "tmp"), { recursive: true })
    const masterLogFile = path.join(masterDir, "master.log")
    const [masterPort, masterUiPort] = [yield* LocalServer.freePort, yield* LocalServer.freePort]
    const masterUrl = `spark://127.0.0.1:${masterPort}`
    const masterWebUiUrl = `http://127.0.0.1:${masterUiPort}`
    const master = yield* daemon(
      masterDir,
      masterLogFile,
      [
        "-Dspark.master.rest.enabled=false",
        masterClass,
        "--host",
        "127.0.0.1",
        "--port",
        String(masterPort),
        "--webui-port",
        String(masterUiPort)
      ],
      {}
    )
    const masterState = getJson<MasterState>(`${masterWebUiUrl}/json/`)
    yield* Ready.until({
      process: master,
      exited: () =>
        new LocalClusterError({
          message: `the master exited during start-up:\n${tail(masterLogFile)}`,
          logFile: masterLogFile
        }),
      answers: masterState.pipe(Effect.filterOrFail((s) => s.status === "ALIVE")),
      every: "250 millis",
      within: remaining(),
      timedOut: () =>
        new LocalClusterError({
          message: `the master did not answer at ${masterWebUiUrl}:\n${tail(masterLogFile)}`,
          logFile: masterLogFile
        })
    })
    const masterPid = yield* jvmPid(master.pid, masterClass, masterLogFile)

    // The workers and the driver start together; executors come once both are there.
    const startWorker = (index: number) =>
      Effect.gen(function* () {
        const dir = path.join(dataDir, `worker-${index}`)
        const sparkHome = path.join(dir, "spark-home")
        fs.mkdirSync(path.join(dir, "tmp"), { recursive: true })
        fs.mkdirSync(path.join(dir, "work"), { recursive: true })
        fs.mkdirSync(sparkHome, { recursive: true })
        const link = path.join(sparkHome, "jars")
        fs.rmSync(link, { force: true, recursive: true })
        fs.symlinkSync(jars, link)
        const logFile = path.join(dir, "worker.log")
        const uiPort = yield* LocalServer.freePort
        const handle = yield* daemon(
          dir,
          logFile,
          [
            workerClass,
            "--host",
            "127.0.0.1",
            "--cores",
            String(workerCores),
            "--memory",
            options.workerMemory ?? "1g",
            "--webui-port",
            String(uiPort),
            "--work-dir",
            path.join(dir, "work"),
            masterUrl
          ],
          { SPARK_HOME: sparkHome, SPARK_LOCAL_DIRS: path.join(dir, "tmp") }
        )
        return { index, handle, dir, logFile, webUiUrl: `http://127.0.0.1:${uiPort}` }
      })
    const started = yield* Effect.forEach(
      Array.from({ length: workerCount }, (_, i) => i),
      startWorker
    )

    const workersAlive = Ready.until({
      process: {
        isRunning: Effect.forEach([master, ...started.map((w) => w.handle)], (h) => h.isRunning).pipe(
          Effect.map((states) => states.every(Boolean))
        )
      },
      exited: () =>
        new LocalClusterError({
          message: `a cluster JVM exited during start-up:\n${[masterLogFile, ...started.map((w) => w.logFile)]
            .map((f) => `${f}:\n${tail(f)}`)
            .join("\n")}`
        }),
      answers: masterState.pipe(
        Effect.filterOrFail((s) =>
          started.every((w) =>
            s.workers.some((x) => x.state === "ALIVE" && w.webUiUrl === x.webuiaddress.replace(/\/$/, ""))
          )
        )
      ),
      every: "250 millis",
      within: remaining(),
      timedOut: () =>
        new LocalClusterError({
          message: `the workers did not register ALIVE with ${masterUrl}:\n${started
            .map((w) => `${w.logFile}:\n${tail(w.logFile)}`)
            .join("\n")}`
        })
    })

    const driverDir = path.join(dataDir, "driver")
    const cores = workerCount * workerCores
    const startDriver = LocalServer.start({
      sparkVersion,
      master: masterUrl,
      dataDir: driverDir,
      heap: options.driverHeap ?? "1g",
      startTimeout: remaining(),
      // No driver web UI: LocalServer does not set SPARK_LOCAL_IP, so it would listen on every address.
      ui: false,
      conf: {
        "spark.app.name": "spark-etl-cluster",
        "spark.executor.memory": options.executorMemory ?? "512m",
        "spark.executor.cores": String(workerCores),
        "spark.cores.max": String(cores),
        "spark.default.parallelism": String(cores),
        // Executors bind to the address their worker gives them; their own scratch space here.
        "spark.executor.extraJavaOptions": `-Djava.io.tmpdir=${path.join(driverDir, "tmp")}`,
        ...options.conf
      }
    }).pipe(
      Effect.mapError(
        (e) =>
          new LocalClusterError({
            message: `the driver (Spark Connect server) did not start: ${e.message}\n${e.logTail ?? ""}`,
            logFile: e.logFile
          })
      )
    )
    const [, driver] = yield* Effect.all([workersAlive, startDriver], { concurrency: 2 })

    const workers: ReadonlyArray<ClusterWorker> = yield* Effect.forEach(started, (w) =>
      jvmPid(w.handle.pid, workerClass, w.logFile).pipe(
        Effect.map((pid) => ({
          index: w.index,
          pid,
          tetherPid: w.handle.pid,
          webUiUrl: w.webUiUrl,
          dir: w.dir,
          logFile: w.logFile
        }))
      )
    )
    const workerAt = (index: number): Effect.Effect<ClusterWorker, LocalClusterError> => {
      const w = workers[index]
      return w === undefined
        ? Effect.fail(new LocalClusterError({ message: `no worker ${index}; there are ${workers.length}` }))
        : Effect.succeed(w)
    }
    return {
      remote: driver.remote,
      masterUrl,
      masterWebUiUrl,
      masterPid,
      masterLogFile,
      workers,
      driver,
      dataDir,
      masterState,
      workerState: (index) =>
        workerAt(index).pipe(Effect.flatMap((w) => getJson<WorkerState>(`${w.webUiUrl}/json/`))),
      killWorker: (index) => workerAt(index).pipe(Effect.flatMap((w) => sigkill(w.pid, `worker ${index}`))),
      killMaster: sigkill(masterPid, "the master")
    } satisfies LocalCluster
  })
