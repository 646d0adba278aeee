/**
 * Plugin packages: the built-in one (`@spark-etl/runner-sql`) and those a batch file names under
 * `plugins:`, each resolved from the batch file's folder (its `node_modules`, then its parents'),
 * then from each folder of `SPARK_ETL_PLUGIN_PATH`, imported, and checked against core's plugin
 * API. A package that cannot be used rejects the batch (exit 3) at its line in the file, before
 * anything is touched. Every package's runners are then registered the same lazy way
 * (Layers, ValidationOnly).
 */
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Result from "effect/Result"
import { Batch, Failure, Plugin } from "@spark-etl/core"
import type { SparkSession } from "@spark-etl/runner-spark-connect"
import { plugin as sqlPlugin } from "@spark-etl/runner-sql"
import { createRequire } from "node:module"
import * as path from "node:path"
import { pathToFileURL } from "node:url"

/** What the CLI gives every runner: a Spark session, opened on first use. */
type HostServices = SparkSession.SparkSession

export interface Loaded {
  /** The package's name, as the batch file gives it. */
  readonly name: string
  readonly pkg: Plugin.Package<HostServices>
}

/** Plugins every batch has, without naming them. */
const builtIn: ReadonlyArray<Loaded> = [{ name: "@spark-etl/runner-sql", pkg: sqlPlugin }]

/** Where a batch's plugin packages are looked for: its own folder, then the plugin path. */
const searchPath = (batchFile: string, pluginPath: ReadonlyArray<string>): ReadonlyArray<string> => [
  path.dirname(path.resolve(batchFile)),
  ...pluginPath.map((dir) => path.resolve(dir))
]

// Node's resolution from `dir` (node_modules there and above). A package needs a `default`,
// `node` or `require` entry in its `exports` to be found this way (the generator's have one).
const resolveFrom = (dir: string, name: string): string | undefined => {
  try {
    return createRequire(path.join(dir, "index.js")).resolve(name)
  } catch {
    return undefined
  }
}

const importPackage = (
  name: string,
  dirs: ReadonlyArray<string>
): Effect.Effect<Plugin.Package<HostServices>, string> =>
  Effect.gen(function* () {
    const file = dirs.map((dir) => resolveFrom(dir, name)).find((f) => f !== undefined)
    if (file === undefined)
      return yield* Effect.fail(`is not installed where it is looked for: ${dirs.join(", ")}`)
    const module = yield* Effect.tryPromise({
      try: () => import(pathToFileURL(file).href) as Promise<Record<string, unknown>>,
      catch: (error) =>
        `cannot be imported from ${file}: ${error instanceof Error ? error.message : String(error)}`
    })
    const checked = Plugin.checkPackage<HostServices>(module["plugin"])
    return yield* Result.isSuccess(checked) ? Effect.succeed(checked.success) : Effect.fail(checked.failure)
  })

/**
 * The built-in plugins and the batch's own, or every reason one of the batch's cannot be used,
 * each at its place in the file.
 */
export const load = (
  batchFile: string,
  names: ReadonlyArray<string>,
  pluginPath: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<Loaded>, Failure.ConfigRejected, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const dirs = searchPath(batchFile, pluginPath)
    const loaded: Array<Loaded> = [...builtIn]
    const issues: Array<Failure.ConfigIssue> = []
    const refuse = (index: number, message: string) =>
      Effect.map(Batch.issueAt(batchFile, ["plugins", index], message), (issue) => void issues.push(issue))
    for (const [index, name] of names.entries()) {
      if (loaded.some((l) => l.name === name)) continue
      const pkg = yield* Effect.result(importPackage(name, dirs))
      if (Result.isFailure(pkg)) {
        yield* refuse(index, `plugin package "${name}" ${pkg.failure}`)
        continue
      }
      const taken = pkg.success.runners.flatMap((r) => {
        const owner = loaded.find((l) => l.pkg.runners.some((o) => o.kind === r.kind))
        return owner === undefined ? [] : [`"${r.kind}" (already brought by "${owner.name}")`]
      })
      if (taken.length > 0) {
        yield* refuse(
          index,
          `plugin package "${name}" brings rule kinds another package brings: ${taken.join(", ")}`
        )
        continue
      }
      loaded.push({ name, pkg: pkg.success })
    }
    return issues.length > 0 ? yield* Effect.fail(Failure.rejected(issues, "PLUGIN_INVALID")) : loaded
  })
