#!/usr/bin/env -S node --max-semi-space-size=16
/**
 * The `spark-etl` binary. AutoSys judges a job by its exit code, and Node's own failure code
 * (1) means "a rule failed" in our table: a Node too old for our dependencies, or an install
 * that cannot load, exits 2 (a platform failure) with a message that says so.
 * V8's compile cache (kept in the OS temp dir) makes every start after the first skip
 * recompiling the dependency tree; it must be on before anything loads.
 */
import * as nodeModule from "node:module"

const minimumNode = 22
const major = Number(process.versions.node.split(".")[0])
if (major < minimumNode) {
  process.stderr.write(
    `spark-etl needs Node.js ${minimumNode} or newer; ${process.execPath} is ${process.versions.node}\n`
  )
  process.exit(2)
}
nodeModule.enableCompileCache()
try {
  await import("./program.js")
} catch (error) {
  process.stderr.write(`spark-etl could not start: ${error instanceof Error ? error.stack : String(error)}\n`)
  process.exit(2)
}
