/**
 * Runs a command with SPARK_REMOTE set: the given one, or a private local server started for
 * the benchmark (so other work on a shared server does not blur the figures) and stopped after.
 * Usage: node bench/with-server.ts COMMAND [ARG...]
 */
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { LocalServer } from "@spark-etl/runner-spark-connect/local"

const [command = "true", ...args] = process.argv.slice(2)

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
        LocalServer.start({ dataDir: path.resolve(".spark-etl", "bench"), master: "local[2]", heap: "2g" }),
        (server) => runWith(server.remote)
      )
    ).pipe(Effect.provide(NodeServices.layer))

process.exitCode = await Effect.runPromise(program)
