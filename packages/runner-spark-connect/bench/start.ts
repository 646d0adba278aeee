/**
 * A local server's start, from LocalServer.start to a server that answers an RPC: with its class
 * archive mapped (src/local/ClassArchive.ts) against without it (SPARK_ETL_CLASS_ARCHIVE=off),
 * the two alternating, median of each. A first start records the archive when there is none.
 * Usage: node bench/start.ts [RUNS]   (default 3 a side)
 */
import { NodeServices } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { ClassArchive, LocalServer } from "@spark-etl/runner-spark-connect/local"

const runs = Number(process.argv[2] ?? "3")
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`expected a positive whole number of runs, got ${JSON.stringify(process.argv[2])}`)
  process.exit(1)
}

/** Seconds from the call to a server that answers; the server is stopped before it returns. */
const startOnce = (archive: "on" | "off"): Promise<number> => {
  process.env["SPARK_ETL_CLASS_ARCHIVE"] = archive
  const started = performance.now()
  return Effect.runPromise(
    Effect.scoped(
      Effect.map(
        LocalServer.start({
          dataDir: path.resolve(".spark-etl", `bench-start-${archive}`),
          master: "local[2]"
        }),
        () => (performance.now() - started) / 1000
      )
    ).pipe(Effect.provide(NodeServices.layer))
  )
}

const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const jars = await Effect.runPromise(
  LocalServer.resolveJars(LocalServer.defaultSparkVersion).pipe(Effect.provide(NodeServices.layer))
)
const archive = ClassArchive.archivePath(jars)
if (archive !== undefined && !fs.existsSync(archive)) {
  const recording = await startOnce("on")
  console.log(`first start, recording the class archive: ${recording.toFixed(2)} s`)
}
const times: Record<"on" | "off", Array<number>> = { on: [], off: [] }
for (let i = 0; i < runs; i++) {
  for (const mode of ["off", "on"] as const) times[mode].push(await startOnce(mode))
}
const [on, off] = [median(times.on), median(times.off)]
console.log(
  `Spark ${LocalServer.defaultSparkVersion}, load average ${fs.readFileSync("/proc/loadavg", "utf8").trim()}`
)
console.log(
  `start to an answer, class archive mapped: ${times.on.map((t) => t.toFixed(2)).join(", ")} s (median ${on.toFixed(2)})`
)
console.log(
  `start to an answer, without:              ${times.off.map((t) => t.toFixed(2)).join(", ")} s (median ${off.toFixed(2)})`
)

const results = process.env["SPARK_ETL_BENCH_RESULTS"]
if (results) {
  fs.appendFileSync(
    results,
    `${JSON.stringify({
      figure: `local server start to an answer, class archive mapped (median of ${runs})`,
      unit: "s",
      ours: on,
      against: off,
      againstName: "the same start without it (SPARK_ETL_CLASS_ARCHIVE=off)"
    })}\n`
  )
}
