// The CLI against a Spark standalone cluster of its own (a master, two workers, the Spark
// Connect server as the driver, HDFS its default filesystem): the sample batch with its inputs
// and targets on HDFS computed by executors on the workers; a worker JVM killed mid-rule (Spark
// runs its tasks again elsewhere: the batch succeeds); the master killed mid-rule (the running
// application keeps its executors: the batch succeeds, and nothing is reported as failed).
import { NodeServices } from "@effect/platform-node"
import { LocalCluster } from "@spark-etl/infra"
import { Effect, Exit, Scope } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { batchFile, cli, runArgs, sampleBatch, start, topic, waitFor } from "./harness.js"
import { hdfsBase, lines, moveSample, putText, sampleOutputs } from "./hdfs.js"

const scope = Effect.runSync(Scope.make())
let cluster: LocalCluster.LocalCluster

beforeAll(async () => {
  cluster = await Effect.runPromise(
    LocalCluster.start({
      dataDir: fs.mkdtempSync(path.join(os.tmpdir(), "e2e-cluster-")),
      conf: { "spark.hadoop.fs.defaultFS": inject("hdfsUri") }
    }).pipe(Scope.provide(scope), Effect.provide(NodeServices.layer))
  )
}, 400_000)

afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)), 120_000)

// Tasks an executor of a worker has started so far, by its log (Spark's "Running task").
const tasksStarted = (worker: LocalCluster.ClusterWorker): number => {
  const work = path.join(worker.dir, "work")
  if (!fs.existsSync(work)) return 0
  return fs
    .readdirSync(work)
    .flatMap((app) =>
      fs.readdirSync(path.join(work, app)).map((executor) => path.join(work, app, executor, "stderr"))
    )
    .filter((file) => fs.existsSync(file))
    .reduce((n, file) => n + (fs.readFileSync(file, "utf8").match(/Running task /g)?.length ?? 0), 0)
}

// Eight tasks of four seconds each: long enough for a JVM to die under them.
const slowBatch = (base: string) => `batch: cluster_faults
targets:
  store: spark-path
  roots: ["${base}/output"]
rules:
  - id: slow
    kind: sql
    target: ${base}/output/slow
    options:
      sql: SELECT id, reflect('java.lang.Thread', 'sleep', CAST(4000 AS BIGINT)) AS slept FROM range(0, 8, 1, 8)
`

/** Runs the slow batch; once `worker` has started a task of it, `kill`s; the run's result. */
const runKilling = async (worker: LocalCluster.ClusterWorker, kill: Effect.Effect<void, unknown>) => {
  const base = hdfsBase()
  await putText(`${base}/output/sentinel`, { line: "root" })
  const b = batchFile(slowBatch(base))
  const before = tasksStarted(worker)
  // Events to the log: this is about the engine.
  const run = start(["run", b.batch, "--remote", cluster.remote, "--state-dir", b.stateDir])
  expect(
    await waitFor(() => tasksStarted(worker) > before, 120_000),
    `no task started on worker ${worker.index}`
  ).toBe(true)
  await Effect.runPromise(kill)
  const exited = await run.exited
  return { base, exited, output: run.output() }
}

describe("a standalone cluster", () => {
  it("runs the sample batch on HDFS in executors on both workers: answers right, once after a rerun", async () => {
    const s = sampleBatch()
    const base = hdfsBase()
    await moveSample(s, base)
    const t = await topic("cluster")
    // Twice: a rerun on the cluster leaves every output once.
    for (const attempt of [1, 2]) {
      const r = await cli(
        runArgs(s, t, { remote: cluster.remote, extra: ["--param", "run_date=2026-11-26"] })
      )
      expect(r.code, `run ${attempt}: ${r.stderr}\n${r.stdout}`).toBe(0)
    }
    const { expected, actual } = await sampleOutputs(s, base)
    expect(actual).toEqual(expected)
    // The application holds an executor on each worker, and both started tasks of the batch.
    const state = await Effect.runPromise(cluster.masterState)
    expect(state.aliveworkers).toBe(2)
    expect(state.activeapps.map((a) => a.cores)).toEqual([2])
    expect(cluster.workers.map((w) => tasksStarted(w) > 0)).toEqual([true, true])
  })

  it("a worker JVM killed mid-rule: its tasks run again on the other, the batch succeeds", async () => {
    const { base, exited, output } = await runKilling(cluster.workers[0]!, cluster.killWorker(0))
    expect(exited.code, output).toBe(0)
    expect((await lines(`${base}/output/sentinel`)).length).toBe(1)
    const state = await Effect.runPromise(cluster.masterState)
    expect(state.aliveworkers).toBe(1)
  })

  it("the master killed mid-rule: the application keeps its executors, the batch succeeds", async () => {
    const { exited, output } = await runKilling(cluster.workers[1]!, cluster.killMaster)
    expect(exited.code, output).toBe(0)
    expect(output).not.toMatch(/FAILED/)
  })
})
