/**
 * Runs a command with SPARK_REMOTE set: the given one, or a private local server started for
 * the benchmark (so other work on a shared server does not blur the figures) and stopped after.
 * SPARK_VERSION picks the local server's Spark version (LocalServer's default otherwise).
 * Usage: node bench/with-server.ts COMMAND [ARG...]
 */
import { NodeServices } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { LocalServer } from "@spark-etl/runner-spark-connect/local"

const [command = "true", ...args] = process.argv.slice(2)
const sparkVersion = process.env["SPARK_VERSION"] || undefined

const runWith = (remote: string) =>
  Effect.sync(
    () =>
      spawnSync(command, args, { stdio: "inherit", env: { ...process.env, SPARK_REMOTE: remote } }).status ??
      1
  )

const program = process.env["SPARK_REMOTE"]
  ? runWith(process.env["SPARK_REMOTE"])
  : Effect.scoped(
      Effect.flatMap(
        LocalServer.start({
          dataDir: path.resolve(".spark-etl", sparkVersion ? `bench-${sparkVersion}` : "bench"),
          master: "local[2]",
          heap: "2g",
          ...(sparkVersion ? { sparkVersion } : {})
        }),
        (server) => runWith(server.remote)
      )
    ).pipe(Effect.provide(NodeServices.layer))

process.exitCode = await Effect.runPromise(program)
