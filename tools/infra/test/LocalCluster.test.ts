// A Spark standalone cluster from Maven Central jars (master, two workers, Spark Connect as the
// driver): queries run in executors on the workers, everything listens on 127.0.0.1 only,
// a killed worker or master does not stop queries, and stopping leaves no process behind.
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit, Scope } from "effect"
import { SparkSession } from "@spark-etl/runner-spark-connect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as LocalCluster from "../src/LocalCluster.js"

const dataDir = path.resolve(import.meta.dirname, "..", ".spark-etl", `cluster-${process.pid}`)

const run = <A, E>(program: Effect.Effect<A, E, NodeServices.NodeServices>) =>
  Effect.runPromise(program.pipe(Effect.provide(NodeServices.layer)))

/** Pids whose command line names the cluster's data dir: tethers, master, workers, executors, driver. */
const ours = (): ReadonlyArray<{ readonly pid: number; readonly argv: ReadonlyArray<string> }> =>
  fs
    .readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid)
    .flatMap((e) => {
      try {
        const argv = fs.readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0")
        const state = fs.readFileSync(`/proc/${e}/stat`, "utf8").split(") ")[1]?.[0]
        return state !== "Z" && argv.some((a) => a.includes(dataDir)) ? [{ pid: Number(e), argv }] : []
      } catch {
        return []
      }
    })

const executors = () =>
  ours().filter((p) => p.argv.includes("org.apache.spark.executor.CoarseGrainedExecutorBackend"))

const waitFor = async <A>(what: string, ms: number, attempt: () => Promise<A | undefined>): Promise<A> => {
  const deadline = Date.now() + ms
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await attempt()
      if (value !== undefined) return value
    } catch (e) {
      last = e
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`${what}: not within ${ms} ms${last === undefined ? "" : `; last error: ${String(last)}`}`)
}

/** The query that needs executors: 10M rows made and counted in 4 tasks. */
const countRange = (remote: string) =>
  run(
    Effect.gen(function* () {
      const session = yield* SparkSession.make({ remote })
      return yield* session.collect(yield* session.sql("SELECT count(*) AS n FROM range(0, 10000000, 1, 4)"))
    }).pipe(Effect.scoped)
  ).then((rows) => rows.map((r) => Number(r["n"])))

/**
 * Counts 400k rows in 4 partitions, grouped by the command line of the JVM that evaluated each row
 * (reflect is nondeterministic, so it runs where the rows are made: in executors, not the driver).
 */
const countByJvm = (remote: string) =>
  run(
    Effect.gen(function* () {
      const session = yield* SparkSession.make({ remote })
      return yield* session.collect(
        yield* session.sql(
          "SELECT reflect('java.lang.System', 'getProperty', 'sun.java.command') AS jvm, count(*) AS n " +
            "FROM range(0, 400000, 1, 4) GROUP BY jvm"
        )
      )
    }).pipe(Effect.scoped)
  ).then((rows) => rows.map((r) => ({ jvm: String(r["jvm"]), n: Number(r["n"]) })))

const workerUrl = (jvm: string) => /--worker-url (\S+)/.exec(jvm)?.[1]

describe("LocalCluster", () => {
  let scope: Scope.Closeable | undefined
  let cluster: LocalCluster.LocalCluster

  beforeAll(async () => {
    fs.rmSync(dataDir, { recursive: true, force: true })
    const t0 = performance.now()
    scope = Effect.runSync(Scope.make())
    cluster = await run(LocalCluster.start({ dataDir }).pipe(Scope.provide(scope)))
    const readyIn = (performance.now() - t0) / 1000
    expect(await countRange(cluster.remote)).toEqual([10_000_000])
    const startedIn = (performance.now() - t0) / 1000
    console.info(
      `[LocalCluster] ready in ${readyIn.toFixed(1)} s; from nothing to a query answered: ${startedIn.toFixed(1)} s`
    )
  }, 300_000)

  afterAll(async () => {
    if (scope) await Effect.runPromise(Scope.close(scope, Exit.void))
  }, 120_000)

  it("runs queries in executors on both workers, listed by the master", async () => {
    expect(cluster.remote).toMatch(/^sc:\/\/127\.0\.0\.1:\d+$/)
    expect(cluster.masterUrl).toMatch(/^spark:\/\/127\.0\.0\.1:\d+$/)
    expect(cluster.workers).toHaveLength(2)

    // The master: both workers ALIVE, our application running with both cores.
    const state = await waitFor("app with 2 cores", 60_000, async () => {
      const s = await Effect.runPromise(cluster.masterState)
      return s.activeapps.some((a) => a.name === "spark-etl-cluster" && a.cores === 2) ? s : undefined
    })
    expect(state.status).toBe("ALIVE")
    expect(state.aliveworkers).toBe(2)
    const app = state.activeapps.find((a) => a.name === "spark-etl-cluster")
    expect(app?.state).toBe("RUNNING")
    const masterWorkers = cluster.workers.map((w) => {
      const found = state.workers.find((x) => x.webuiaddress.replace(/\/$/, "") === w.webUiUrl)
      expect(found?.state).toBe("ALIVE")
      expect(found?.coresused).toBe(1)
      return found
    })

    // Each worker: one executor of our application.
    for (const w of cluster.workers) {
      const ws = await Effect.runPromise(cluster.workerState(w.index))
      expect(ws.executors.map((e) => e.appid)).toEqual([app?.id])
    }

    // The rows: all made in executors, on both workers (once both executors have registered).
    const byWorker = await waitFor("rows from both workers", 120_000, async () => {
      const rows = await countByJvm(cluster.remote)
      expect(rows.reduce((sum, r) => sum + r.n, 0)).toBe(400_000)
      for (const r of rows)
        expect(r.jvm).toMatch(/^org\.apache\.spark\.executor\.CoarseGrainedExecutorBackend /)
      const urls = new Set(rows.map((r) => workerUrl(r.jvm)))
      return urls.size === 2 ? urls : undefined
    })
    const expected = new Set(masterWorkers.map((w) => `spark://Worker@127.0.0.1:${w?.port}`))
    expect(byWorker).toEqual(expected)

    // The executors: Spark's module options on Java 17, classpath from the worker's SPARK_HOME.
    const execs = executors()
    expect(execs).toHaveLength(2)
    for (const e of execs) {
      expect(e.argv).toContain("--add-opens=java.base/sun.nio.ch=ALL-UNNAMED")
      expect(e.argv).toContain("-Xmx512M")
      const cp = e.argv[e.argv.indexOf("-cp") + 1] ?? ""
      expect(cluster.workers.some((w) => cp.includes(path.join(w.dir, "spark-home", "jars", "*")))).toBe(true)
    }
  })

  it("listens on 127.0.0.1 only", () => {
    const pids = new Set(ours().map((p) => p.pid))
    const listening = execFileSync("ss", ["-Hltnp"], { encoding: "utf8" })
      .split("\n")
      .flatMap((line) => {
        const local = line.trim().split(/\s+/)[3] ?? ""
        const pid = [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])).find((p) => pids.has(p))
        return pid === undefined ? [] : [{ pid, local }]
      })
    // Master RPC and UI, 2 x worker RPC and UI, 2 x executor, driver RPC, block manager, gRPC.
    expect(listening.length).toBeGreaterThanOrEqual(9)
    // An IPv6 socket bound to ::ffff:127.0.0.1 takes IPv4 loopback connections only.
    expect(listening.filter((l) => !/^(127\.0\.0\.1|\[::ffff:127\.0\.0\.1\]):\d+$/.test(l.local))).toEqual([])
  })

  it("answers queries after a worker's JVM is killed", async () => {
    const victim = cluster.workers[1]
    if (victim === undefined) throw new Error("no second worker")
    await Effect.runPromise(cluster.killWorker(1))
    expect(ours().some((p) => p.pid === victim.pid)).toBe(false)
    // The master notices at once (the connection drops); the orphaned executor ends itself.
    await waitFor("worker 1 not ALIVE", 60_000, async () => {
      const s = await Effect.runPromise(cluster.masterState)
      return s.aliveworkers === 1 ? true : undefined
    })
    await waitFor("worker 1's executor gone", 60_000, async () =>
      executors().some((e) => e.argv.some((a) => a.includes(victim.dir))) ? undefined : true
    )
    const rows = await countByJvm(cluster.remote)
    expect(rows.reduce((sum, r) => sum + r.n, 0)).toBe(400_000)
    expect(new Set(rows.map((r) => workerUrl(r.jvm))).size).toBe(1)
  })

  it("answers queries after the master's JVM is killed", async () => {
    await Effect.runPromise(cluster.killMaster)
    expect(ours().some((p) => p.pid === cluster.masterPid)).toBe(false)
    const rows = await countByJvm(cluster.remote)
    expect(rows.reduce((sum, r) => sum + r.n, 0)).toBe(400_000)
  })

  it("leaves no process when its scope closes", async () => {
    expect(ours().length).toBeGreaterThan(0)
    if (scope) await Effect.runPromise(Scope.close(scope, Exit.void))
    scope = undefined
    expect(ours()).toEqual([])
    const deploy = (() => {
      try {
        return execFileSync("pgrep", ["-af", "org.apache.spark.deploy"], { encoding: "utf8" })
      } catch {
        return "" // pgrep exits 1 when nothing matches
      }
    })()
    expect(deploy.split("\n").filter((l) => l.includes(dataDir))).toEqual([])
  }, 120_000)
})
