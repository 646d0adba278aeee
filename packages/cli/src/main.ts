#!/usr/bin/env node
/**
 * The `spark-etl` binary. V8's compile cache (kept in the OS temp dir) makes every start after
 * the first one skip recompiling the dependency tree; it must be on before anything loads.
 */
import { enableCompileCache } from "node:module"

enableCompileCache()
await import("./program.js")
