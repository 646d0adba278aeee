/**
 * Runs in the main vitest process, before any other global setup: the run's temporary files go
 * to a folder of its own, removed when the run ends. Tests, the CLI processes they start and the
 * paths they hand to servers all come from os.tmpdir(), which reads TMPDIR, and the workers
 * inherit this process's environment; without it every run left its folders in /tmp (gigabytes
 * over a day of CI runs).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export default function setup(): () => void {
  const before = process.env["TMPDIR"]
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-test-"))
  // Open as /tmp is: under root, servers run as users of their own (PostgreSQL as "postgres")
  // enter the folders tests make here, and may write their own temporary files.
  fs.chmodSync(dir, 0o1777)
  process.env["TMPDIR"] = dir
  return () => {
    fs.rmSync(dir, { recursive: true, force: true })
    // TMPDIR as it was: never a folder that is gone.
    if (before === undefined) delete process.env["TMPDIR"]
    else process.env["TMPDIR"] = before
  }
}
