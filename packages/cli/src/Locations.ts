/**
 * The first preflight step: the places a run writes on this host — the run ledger, the log and
 * the outbox — exist (or can be made) and take a write. Checked before anything else, so a
 * full disk or a mistyped --state-dir is a rejected batch (exit 3) naming the path, not a run
 * that cleaned its targets and then could not record or report what it did.
 */
import * as Effect from "effect/Effect"
import { Failure } from "@spark-etl/core"
import * as fs from "node:fs"
import * as path from "node:path"

/** One place to check, and the setting it came from (named in the error). */
export interface Location {
  readonly path: string
  /** The flag or variable that sets it, e.g. `--state-dir / SPARK_ETL_STATE_DIR`. */
  readonly setting: string
  readonly kind: "directory" | "file"
}

// Node's own messages already start with the code ("ENOTDIR: not a directory, mkdir '…'").
const reason = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  const code = "code" in error ? String(error.code) : undefined
  return code === undefined || error.message.startsWith(`${code}:`)
    ? error.message
    : `${code}: ${error.message}`
}

// A directory takes a write when a file can be created in it (access(2) misses some mounts).
const writableDirectory = (dir: string): string | undefined => {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    const probe = path.join(dir, `.spark-etl-probe-${process.pid}`)
    fs.writeFileSync(probe, "")
    fs.rmSync(probe)
    return undefined
  } catch (error) {
    return `${dir} is not a writable directory (${reason(error)})`
  }
}

const writableFile = (file: string): string | undefined => {
  try {
    const stat = fs.statSync(file, { throwIfNoEntry: false })
    if (stat === undefined) return writableDirectory(path.dirname(file))
    if (!stat.isFile()) return `${file} exists and is not a regular file`
    fs.closeSync(fs.openSync(file, "a"))
    return undefined
  } catch (error) {
    return `${file} cannot be appended to (${reason(error)})`
  }
}

/** Every location that fails, as one rejection (code LOCATION_UNWRITABLE); none: succeeds. */
export const check = (locations: ReadonlyArray<Location>): Effect.Effect<void, Failure.ConfigRejected> =>
  Effect.suspend(() => {
    const issues = locations.flatMap((l) => {
      const problem = l.kind === "directory" ? writableDirectory(l.path) : writableFile(l.path)
      return problem === undefined
        ? []
        : [{ file: l.path, line: 1, column: 1, field: l.setting, message: problem }]
    })
    return issues.length === 0 ? Effect.void : Effect.fail(Failure.rejected(issues, "LOCATION_UNWRITABLE"))
  })
