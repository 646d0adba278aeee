// The embedded default: `local[N]` starts a server inside the session's scope and stops it after.
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit } from "effect"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as LocalServer from "../../src/local/LocalServer.js"
import * as SparkSession from "../../src/SparkSession.js"
import { unique } from "./harness.js"

describe("remote local[N]", () => {
  it("starts a local server for the session and stops it when the scope closes", async () => {
    const exit = await Effect.runPromiseExit(
      Effect.scoped(
        Effect.gen(function* () {
          const spark = yield* SparkSession.make({
            remote: "local[1]",
            local: { dataDir: path.resolve(".spark-etl", unique("local")), heap: "1g" }
          })
          const rows = yield* Effect.flatMap(spark.sql("SELECT current_user() IS NOT NULL AS up"), (df) =>
            spark.collect(df)
          )
          const master = yield* spark.getConf("spark.master")
          return { rows, remote: spark.remote, master, version: spark.sparkVersion }
        })
      ).pipe(Effect.provide(NodeServices.layer))
    )
    if (Exit.isFailure(exit)) throw new Error(String(exit.cause))
    const { rows, remote, master, version } = exit.value
    expect(rows).toEqual([{ up: true }])
    expect(master).toMatchObject({ value: "local[1]" })
    expect(version).toBe(LocalServer.defaultSparkVersion)
    // After the scope: nothing answers on that port any more.
    const address = remote.replace("sc://", "")
    const probe = await Effect.runPromiseExit(LocalServer.probe(address, 2000))
    expect(probe._tag).toBe("Failure")
  }, 240_000)
})
