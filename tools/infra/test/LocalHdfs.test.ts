// HDFS of the harness: up with its NameNode on loopback, serving Spark (a file written and
// read back through the harness's Spark), and gone, every process of it, once its scope closes.
import { NodeServices } from "@effect/platform-node"
import { SparkSession } from "@spark-etl/runner-spark-connect"
import { Effect, Exit, Scope } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { expect, inject, it } from "vitest"
import * as LocalHdfs from "../src/LocalHdfs.js"

const processesOf = (dataDir: string) =>
  execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" })
    .split("\n")
    .filter((l) => l.includes(dataDir) && !l.includes(" ps "))

it("starts on loopback, serves Spark, and leaves no process when its scope closes", async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "local-hdfs-"))
  const scope = Effect.runSync(Scope.make())
  const hdfs = await Effect.runPromise(
    LocalHdfs.start({ dataDir }).pipe(Scope.provide(scope), Effect.provide(NodeServices.layer))
  )
  expect(hdfs.uri).toMatch(/^hdfs:\/\/127\.0\.0\.1:\d+$/)
  const sockets = execFileSync("ss", ["-Hltn"], { encoding: "utf8" })
  expect(sockets).toMatch(new RegExp(`(127\\.0\\.0\\.1|\\[::ffff:127\\.0\\.0\\.1\\]):${hdfs.port}\\s`))
  const rows = await Effect.runPromise(
    Effect.gen(function* () {
      const spark = yield* SparkSession.make({ remote: inject("sparkRemote") })
      yield* spark.write(yield* spark.sql("SELECT 'on hdfs' AS value"), {
        format: "text",
        mode: "overwrite",
        target: { path: `${hdfs.uri}/probe` }
      })
      return yield* spark.collect(yield* spark.sql(`SELECT value FROM text.\`${hdfs.uri}/probe\``))
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer))
  )
  expect(rows).toEqual([{ value: "on hdfs" }])
  expect(processesOf(dataDir).length).toBeGreaterThan(0)
  // Its web server unpacks into its own folder, not /tmp (where it left one at every start).
  expect(fs.readdirSync(path.join(dataDir, "tmp")).some((name) => name.startsWith("jetty-"))).toBe(true)
  await Effect.runPromise(Scope.close(scope, Exit.void))
  expect(processesOf(dataDir)).toEqual([])
}, 240_000)

it("empties its Jetty's temporary folder at every start, so a kept data folder does not pile them up", async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "local-hdfs-"))
  // An earlier start's Jetty folder, as a kept data folder holds it.
  const stale = path.join(dataDir, "tmp", "jetty-stale")
  fs.mkdirSync(stale, { recursive: true })
  fs.writeFileSync(path.join(stale, "webapp.txt"), "an earlier start's")
  const scope = Effect.runSync(Scope.make())
  try {
    await Effect.runPromise(
      LocalHdfs.start({ dataDir }).pipe(Scope.provide(scope), Effect.provide(NodeServices.layer))
    )
    const jetty = fs.readdirSync(path.join(dataDir, "tmp")).filter((name) => name.startsWith("jetty-"))
    expect(jetty).not.toContain("jetty-stale")
    expect(jetty.length).toBeGreaterThan(0)
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
  expect(processesOf(dataDir)).toEqual([])
}, 240_000)
