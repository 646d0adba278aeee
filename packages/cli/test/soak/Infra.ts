/**
 * The soak's own Spark Connect server and Kafka broker, which it kills and stops at will (the
 * shared servers of the test run are never touched). Each can be restarted; Spark comes back on
 * a new port and data dir, Kafka on the same port and data dir, so its topic and the events
 * already delivered survive the outage.
 */
import { NodeServices } from "@effect/platform-node"
import { LocalKafka } from "@spark-etl/infra"
import { SparkSession } from "@spark-etl/runner-spark-connect"
import { LocalServer } from "@spark-etl/runner-spark-connect/local"
import { Effect, Exit, Scope } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { createTopic, readTopic } from "../support/Clients.js"

/** Pids of the processes whose command line names `dataDir` (the JVM and its tether shell). */
const pidsOf = (dataDir: string): ReadonlyArray<number> => {
  const out = spawnSync("pgrep", ["-f", dataDir], { encoding: "utf8" })
  return out.stdout
    .split("\n")
    .filter((p) => p !== "")
    .map(Number)
}

/**
 * The JVM among `pidsOf(dataDir)`: the process whose program (argv[0]) is java. The others are
 * the tether shell and its pipe watcher (a forked copy of the shell), whose command lines name
 * the data dir too.
 */
const jvmOf = (dataDir: string): number | undefined =>
  pidsOf(dataDir).find((pid) => {
    try {
      const argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] ?? ""
      return path.basename(argv0) === "java"
    } catch {
      return false // gone meanwhile
    }
  })

const waitUntil = async (check: () => boolean, ms: number, what: string): Promise<void> => {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const scoped = async <A>(start: Effect.Effect<A, unknown, Scope.Scope>, what: string) => {
  const scope = Effect.runSync(Scope.make())
  const started = await Effect.runPromiseExit(start.pipe(Scope.provide(scope)))
  if (Exit.isFailure(started)) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw new Error(`${what} did not start: ${String(started.cause)}`)
  }
  return { value: started.value, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

export interface OwnSpark {
  readonly remote: () => string
  /** SIGKILLs the JVM (and its tether): the server dies as in a real crash. */
  readonly kill: () => void
  readonly alive: () => boolean
  /**
   * SIGSTOPs the JVM, and only the JVM: what a frozen driver looks like (a stop-the-world pause,
   * a hung host). Its sockets stay open and the kernel still accepts connections and data, but
   * nothing answers. The tether shell keeps running, so the JVM still dies with the soak.
   */
  readonly freeze: () => void
  /** SIGCONTs a frozen JVM; a no-op when none is frozen. Always call it (in a finally). */
  readonly thaw: () => void
  /**
   * Replaces the server (after a kill) by a fresh one on a new port, the spare when there is
   * one; the old one is stopped.
   */
  readonly restart: () => Promise<void>
  /** Starts a spare in the background if there is none: call it when a rerun has ended. */
  readonly replenish: () => void
  readonly close: () => Promise<void>
  /** The rows of each query over Parquet files (views name → path), read through this server in one session. */
  readonly readBack: (
    views: Readonly<Record<string, string>>,
    queries: ReadonlyArray<string>
  ) => Promise<ReadonlyArray<ReadonlyArray<Readonly<Record<string, unknown>>>>>
}

// A few queries that load the classes and compile the code paths a run uses, so the first run
// on a replacement server is not several times slower than the others.
const warmUpQueries = [
  "SELECT count(*) AS hits FROM range(0, 300000000, 1, 1) WHERE id % 7 = 3",
  "SELECT grp, count(*), sum(sq) FROM (SELECT id % 3 AS grp, id * id AS sq FROM range(1, 41)) GROUP BY grp"
]

const collectAll = (
  remote: string,
  views: Readonly<Record<string, string>>,
  queries: ReadonlyArray<string>
) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const session = yield* SparkSession.make({ remote })
      for (const [name, p] of Object.entries(views)) {
        yield* session.createTempView(session.read({ format: "parquet", paths: [p] }), name, {
          replace: true
        })
      }
      const results: Array<ReadonlyArray<Readonly<Record<string, unknown>>>> = []
      for (const query of queries) results.push(yield* session.collect(yield* session.sql(query)))
      return results
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer))
  )

export const spark = async (): Promise<OwnSpark> => {
  const startOne = async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-soak-spark-"))
    const server = await scoped(
      LocalServer.start({ dataDir, master: "local[2]", heap: "1g" }).pipe(Effect.provide(NodeServices.layer)),
      "the soak's Spark Connect server"
    )
    await collectAll(server.value.remote, {}, warmUpQueries)
    return { ...server, dataDir }
  }
  // A killed server is replaced by a spare started (and warmed) in the background beforehand:
  // a Spark start costs 10-20 s on this machine, and the soak kills Spark about ten times. The
  // soak asks for the next spare (`replenish`) once the replacement's rerun is over.
  type Server = Awaited<ReturnType<typeof startOne>>
  const spareOf = () => {
    const p = startOne()
    // Observed when taken; until then a failed start must not be an unhandled rejection.
    p.catch(() => undefined)
    return p
  }
  let current: Server = await startOne()
  let spare: Promise<Server> | undefined = spareOf()
  let killed = false
  let frozen: number | undefined
  const thaw = () => {
    if (frozen === undefined) return
    try {
      process.kill(frozen, "SIGCONT")
    } catch {
      // Gone (killed while frozen): nothing to resume.
    }
    frozen = undefined
  }
  const freeze = () => {
    if (frozen !== undefined) throw new Error(`the Spark JVM ${frozen} is frozen already`)
    const jvm = jvmOf(current.dataDir)
    if (jvm === undefined) throw new Error(`no Spark JVM found for ${current.dataDir}`)
    process.kill(jvm, "SIGSTOP")
    frozen = jvm
  }
  const retire = async (server: Server) => {
    await server.close()
    await waitUntil(() => pidsOf(server.dataDir).length === 0, 30_000, "the old Spark JVM to go")
  }
  const kill = () => {
    // `server.pid` is the launching shell; the JVM is found by its own data dir on the command line.
    const pids = pidsOf(current.dataDir)
    if (pids.length === 0) throw new Error(`no Spark process found for ${current.dataDir}`)
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL")
      } catch {
        // Already gone (the tether shell exits with its JVM).
      }
    }
    killed = true
    frozen = undefined // a stopped process dies of SIGKILL all the same
  }
  return {
    remote: () => current.value.remote,
    kill,
    alive: () => !killed,
    freeze,
    thaw,
    restart: async () => {
      thaw()
      const old = current
      current = await (spare ?? startOne())
      killed = false
      spare = undefined
      await retire(old)
    },
    replenish: () => {
      spare ??= spareOf()
    },
    close: async () => {
      // A frozen JVM would ignore the tether's SIGTERM until its SIGKILL 15 s later.
      thaw()
      await Promise.all([retire(current), spare?.then(retire, () => undefined)])
    },
    readBack: (views, queries) => collectAll(current.value.remote, views, queries)
  }
}

export interface OwnKafka {
  readonly brokers: string
  readonly up: () => boolean
  /** Stops the broker (SIGTERM through its scope) and waits until its JVM is gone. */
  readonly stop: () => Promise<void>
  /** Starts it again on the same port and data dir. */
  readonly start: () => Promise<void>
  readonly close: () => Promise<void>
  /** Creates a one-partition topic. */
  readonly createTopic: (topic: string) => Promise<void>
  /** Every record of a topic, read by kcat (an independent Kafka client), in order. */
  readonly records: (topic: string) => ReadonlyArray<{ readonly key: string; readonly value: string }>
}

export const kafka = async (): Promise<OwnKafka> => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-soak-kafka-"))
  const startOne = (port?: number) =>
    scoped(
      LocalKafka.start({ dataDir, ...(port === undefined ? {} : { port }) }).pipe(
        Effect.provide(NodeServices.layer)
      ),
      "the soak's Kafka broker"
    )
  let current: Awaited<ReturnType<typeof startOne>> | undefined = await startOne()
  const port = current.value.port
  const brokers = current.value.brokers
  const stop = async () => {
    if (current === undefined) return
    const stopping = current
    current = undefined
    await stopping.close()
    await waitUntil(() => pidsOf(dataDir).length === 0, 40_000, "the Kafka JVM to stop")
  }
  return {
    brokers,
    up: () => current !== undefined,
    stop,
    start: async () => {
      if (current !== undefined) return
      current = await startOne(port)
    },
    close: stop,
    createTopic: (topic) => createTopic(brokers, topic),
    records: (topic) => readTopic(brokers, topic)
  }
}
