/**
 * `npm run release [-- --arch x64|arm64] [--out DIR]`: builds dist/spark-etl-<version>-linux-<arch>.tar.gz
 * (run after `nx run-many -t build`, which generates the Spark Connect stubs the bundle needs).
 */
import { NodeRuntime } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { parseArgs } from "node:util"
import * as Release from "./Release.js"

const { values } = parseArgs({
  options: { arch: { type: "string" }, out: { type: "string" } },
  strict: true
})

const program = Effect.gen(function* () {
  const started = performance.now()
  const artifact = yield* Release.build({
    ...(values.arch === undefined ? {} : { arch: values.arch }),
    ...(values.out === undefined ? {} : { outDir: values.out })
  })
  yield* Console.log(
    `${artifact.tarball}\n  ${(artifact.bytes / 2 ** 20).toFixed(1)} MiB, spark-etl ${artifact.version} ` +
      `(${artifact.commit.slice(0, 12)}), node ${artifact.nodeVersion}, built in ${((performance.now() - started) / 1000).toFixed(1)} s`
  )
}).pipe(
  Effect.catchTag("ReleaseError", (e) =>
    Effect.andThen(
      Console.error(`release: ${e.step}: ${e.message}`),
      Effect.sync(() => (process.exitCode = 1))
    )
  )
)

NodeRuntime.runMain(program)
