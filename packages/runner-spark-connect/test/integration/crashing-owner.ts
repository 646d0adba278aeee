/**
 * A run's client that dies mid-operation: it starts one operation in the session its connection
 * string names and runs until the test kills it (SIGKILL), as a crashed run's process would.
 *
 *   node crashing-owner.ts 'sc://host:port/;session_id=<uuid>' view <name>
 *     a global temporary view over 100,000 literal rows, which Spark parses for seconds;
 *   node crashing-owner.ts 'sc://host:port/;session_id=<uuid>' scan
 *     an endless scan, read batch by batch: "operation <id>" on stdout first, "batches <n>"
 *     after each batch.
 */
import { randomUUID } from "node:crypto"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { SparkSession } from "@spark-etl/runner-spark-connect"

const [remote = "", mode = "", view = ""] = process.argv.slice(2)
const values = Array.from({ length: 100_000 }, (_, i) => `(${i})`).join(",")

const operation = (spark: SparkSession.Session) =>
  mode === "view"
    ? Effect.asVoid(
        spark.sql(`CREATE GLOBAL TEMPORARY VIEW ${view} AS SELECT * FROM VALUES ${values} AS t(x)`)
      )
    : Effect.flatMap(spark.sql("SELECT id FROM range(0, 100000000000, 1, 100000)"), (df) => {
        const operationId = randomUUID()
        console.log(`operation ${operationId}`)
        return Stream.runFold(
          spark.stream(df, { operationId }),
          () => 0,
          (n) => {
            console.log(`batches ${n + 1}`)
            return n + 1
          }
        )
      })

await Effect.runPromise(
  Effect.scoped(Effect.flatMap(SparkSession.make({ remote }), operation)).pipe(
    Effect.provide(NodeServices.layer)
  )
)
