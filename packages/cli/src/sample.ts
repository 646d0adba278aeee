/**
 * The sample job on the embedded default, until the batch runner lands: start a local Spark
 * Connect server (or use --remote / SPARK_REMOTE), run a query, print the answer.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { LocalServer, Sql } from "@spark-etl/runner-spark-connect"
import * as path from "node:path"

const query = "SELECT 'spark-etl' AS tool, version() AS spark_version, sum(id) AS total FROM range(1, 1001)"

const remoteFlag = process.argv.indexOf("--remote")
const remote =
  (remoteFlag >= 0 ? process.argv[remoteFlag + 1] : undefined) ?? process.env["SPARK_REMOTE"] ?? "local"

const program = Effect.gen(function* () {
  const target =
    remote === "local"
      ? (yield* LocalServer.start({ dataDir: path.resolve(".spark-etl", "local"), master: "local[2]" }))
          .remote
      : remote
  yield* Console.error(`spark-etl sample: running on ${target}`)
  const table = yield* Sql.collect(target, query)
  const row = table.get(0)?.toJSON()
  yield* Console.log(JSON.stringify(row, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v)))
}).pipe(Effect.scoped, Effect.provide(NodeServices.layer))

NodeRuntime.runMain(program)
