// Tests that need a server of their own: token auth, the Spark UI as a witness of server-side
// interrupts, and a server killed mid-query. The shared server is never touched.
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit, Fiber, Schema, Scope, Stream } from "effect"
import type { ChildProcessSpawner } from "effect/process"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as LocalServer from "../../src/local/LocalServer.js"
import * as SparkError from "../../src/SparkError.js"
import * as SparkSession from "../../src/SparkSession.js"
import { isSpark3, pollUntil, sparkVersion, unique } from "./harness.js"

const token = unique("token")
const scope = Effect.runSync(Scope.make())
let server: LocalServer.LocalServer
let uiPort: number

const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | ChildProcessSpawner.ChildProcessSpawner>) =>
  Effect.runPromiseExit(Effect.scoped(effect).pipe(Effect.provide(NodeServices.layer)))

// Spark 3.5 has no token authentication (spark.connect.authenticate.token came with 4.0).
const authed = () => (isSpark3() ? server.remote : `${server.remote}/;token=${token};use_ssl=false`)
const open = (options: Partial<SparkSession.Options> = {}) =>
  SparkSession.make({ remote: authed(), allowTokenOverLoopbackPlaintext: true, ...options })

const Jobs = Schema.Array(Schema.Struct({ jobId: Schema.Number, status: Schema.String }))
const Apps = Schema.Array(Schema.Struct({ id: Schema.String }))

// The driver's own view of its jobs, through the Spark UI's REST API.
const jobs = Effect.promise(async () => {
  const base = `http://127.0.0.1:${uiPort}/api/v1/applications`
  const apps = Schema.decodeUnknownSync(Apps)(await (await fetch(base)).json())
  return Schema.decodeUnknownSync(Jobs)(await (await fetch(`${base}/${apps[0]!.id}/jobs`)).json())
})
const running = Effect.map(jobs, (all) => all.filter((j) => j.status === "RUNNING"))

/** Polls the running jobs until `holds` accepts them (or fails naming `what`); that answer. */
const runningWhen = (holds: (jobs: typeof Jobs.Type) => boolean, what: string) =>
  pollUntil(running, holds, { what, within: "60 seconds", every: "250 millis" })

beforeAll(async () => {
  uiPort = (await Effect.runPromise(LocalServer.freePort)) as number
  const dataDir = path.resolve(".spark-etl", unique("own-server"))
  const exit = await Effect.runPromiseExit(
    LocalServer.start({
      dataDir,
      sparkVersion: sparkVersion(),
      master: "local[2]",
      heap: "1g",
      ui: true,
      ...(isSpark3() ? {} : { token }),
      conf: {
        "spark.ui.port": String(uiPort),
        // End every result stream after ~1 MiB (and 2 s): only reattach can deliver a larger result.
        "spark.connect.execute.reattachable.senderMaxStreamSize": "1m",
        "spark.connect.execute.reattachable.senderMaxStreamDuration": "2s"
      }
    }).pipe(Scope.provide(scope), Effect.provide(NodeServices.layer))
  )
  if (Exit.isFailure(exit)) throw new Error(`own server did not start: ${String(exit.cause)}`)
  server = exit.value
}, 240_000)

afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)), 60_000)

// Hashing every row: a warm JVM compiles a bare count over a range into a closed form and
// answers at once (seen on 3.5), which a hash per row prevents. Small partitions: an interrupt
// stops it at the next task, not after one endless task per core.
const longQuery = "SELECT sum(hash(id)) FROM range(0, 100000000000, 1, 100000)"

describe("a server of our own", () => {
  it("listens on loopback only, its web UI included", () => {
    // Every listening socket of the server's JVM (a child of its tether), as `ss` shows them.
    const jvm = execFileSync("pgrep", ["-P", String(server.pid), "java"], { encoding: "utf8" }).trim()
    const sockets = execFileSync("ss", ["-Hltnp"], { encoding: "utf8" })
      .split("\n")
      .filter((l) => l.includes(`pid=${jvm},`))
      .map((l) => l.trim().split(/\s+/)[3] ?? "")
    expect(sockets).toContain(`[::ffff:127.0.0.1]:${uiPort}`)
    expect(
      sockets.filter((address) => !/^(127\.0\.0\.1|\[::ffff:127\.0\.0\.1\]):\d+$/.test(address))
    ).toEqual([])
  })

  it("refuses a session without the token as SparkUnauthenticated (3.5: has no token, takes any session)", async () => {
    const exit = await run(SparkSession.make({ remote: server.remote }))
    if (isSpark3()) {
      expect(exit._tag).toBe("Success")
      return
    }
    const error = Exit.isFailure(exit) ? Exit.findErrorOption(exit) : undefined
    expect(error).toMatchObject({ value: { _tag: "SparkUnauthenticated", grpcCode: "UNAUTHENTICATED" } })
  })

  it("accepts the token over loopback plaintext when the caller allows it", async () => {
    const exit = await run(
      Effect.flatMap(open(), (spark) =>
        Effect.flatMap(spark.sql("SELECT 41 + 1 AS v"), (df) => spark.collect(df))
      )
    )
    expect(exit).toMatchObject({ _tag: "Success", value: [{ v: 42 }] })
  })

  it("delivers a result through many reattaches when the server cuts every stream short", async () => {
    const exit = await run(
      Effect.gen(function* () {
        const spark = yield* open()
        const df = yield* spark.sql("SELECT id, repeat('x', 64) AS pad FROM range(200000)")
        return yield* Stream.runFold(
          spark.stream(df),
          () => ({ rows: 0, sum: 0n }),
          (acc, batch) => {
            let sum = acc.sum
            for (const id of batch.getChild("id")!.toArray() as BigInt64Array) sum += id
            return { rows: acc.rows + batch.numRows, sum }
          }
        )
      })
    )
    if (Exit.isFailure(exit)) throw new Error(String(exit.cause))
    // ~17 MiB of Arrow through streams of at most ~1 MiB each.
    expect(exit.value).toEqual({ rows: 200000, sum: 19999900000n })
    const log = fs.readFileSync(server.logFile, "utf8")
    expect(log).toMatch(/reattach/i)
  })

  it("interrupts by tag and the job stops on the server, as its UI reports", async () => {
    const tag = unique("rule")
    const exit = await run(
      Effect.gen(function* () {
        const spark = yield* open()
        const df = yield* spark.sql(longQuery)
        const fiber = yield* Effect.forkChild(Effect.flip(spark.collect(df, { tags: [tag] })))
        const before = yield* runningWhen((jobs) => jobs.length > 0, "the query's job to run on the driver")
        const interrupted = yield* spark.interrupt({ tag })
        const error = yield* Fiber.join(fiber)
        const after = yield* runningWhen((jobs) => jobs.length === 0, "the interrupted job to stop")
        // The jobs since the first one seen running: the scan's among them (3.5 may first run a
        // short job of the same query, which succeeds).
        const since = (yield* jobs).filter((j) => j.jobId >= (before[0]?.jobId ?? 0)).map((j) => j.status)
        return { before: before.length, after: after.length, interrupted, error, since }
      })
    )
    if (Exit.isFailure(exit)) throw new Error(String(exit.cause))
    const result = exit.value
    expect(result.before).toBeGreaterThan(0)
    expect(result.interrupted).toHaveLength(1)
    expect(result.error._tag).toBe("SparkInterrupted")
    expect(result.after).toBe(0)
    expect(result.since).toContain("FAILED")
  })

  it("a consumer interrupted, its session closed at once: the operation is interrupted on the server, not orphaned", async () => {
    const exit = await run(
      Effect.gen(function* () {
        yield* Effect.scoped(
          Effect.gen(function* () {
            const spark = yield* open()
            const df = yield* spark.sql(longQuery)
            const fiber = yield* Effect.forkChild(spark.collect(df))
            yield* runningWhen((jobs) => jobs.length > 0, "the query's job to run on the driver")
            // The consumer goes away (as on a deadline or an early stop): the operation's interrupt
            // is sent in the background, and the session closes right after.
            yield* Fiber.interrupt(fiber)
          })
        )
        const after = yield* runningWhen((jobs) => jobs.length === 0, "the orphaned job to stop")
        return after.length
      })
    )
    if (Exit.isFailure(exit)) throw new Error(String(exit.cause))
    expect(exit.value).toBe(0)
  })

  it("fails a query on a server killed mid-query as a system error within the budget, without hanging", async () => {
    const exit = await run(
      Effect.gen(function* () {
        const spark = yield* open({
          retry: { budget: "3 seconds", initialDelay: "100 millis" },
          rpcTimeout: "5 seconds"
        })
        const df = yield* spark.sql(longQuery)
        const fiber = yield* Effect.forkChild(Effect.flip(spark.collect(df)))
        yield* runningWhen((jobs) => jobs.length > 0, "the query's job to run on the driver")
        // The JVM is the tether script's child: kill it the hard way, as a crash would.
        const jvm = execFileSync("ps", ["-o", "pid=", "--ppid", String(server.pid)], { encoding: "utf8" })
          .split("\n")
          .map((s) => s.trim())
          .filter((s) => s !== "")
        for (const pid of jvm) process.kill(Number(pid), "SIGKILL")
        const killedAt = Date.now()
        const error = yield* Fiber.join(fiber)
        return { error, afterKill: Date.now() - killedAt, jvm }
      })
    )
    if (Exit.isFailure(exit)) throw new Error(String(exit.cause))
    const { error, afterKill, jvm } = exit.value
    expect(jvm.length).toBeGreaterThan(0)
    expect(SparkError.category[error._tag]).toBe("system")
    expect(error._tag).toBe("SparkUnavailable")
    expect(afterKill).toBeLessThan(15_000)
    expect(fs.existsSync(server.logFile)).toBe(true)
  })
})
