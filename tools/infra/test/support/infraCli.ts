// The built infra CLI, run as a user runs it: the test target depends on this package's build.
import { execFile } from "node:child_process"
import * as path from "node:path"

const cli = path.resolve(import.meta.dirname, "..", "..", "dist", "cli.js")

export interface Finished {
  /** The exit code; -1 when the process ended without one (killed, or timed out). */
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export interface Options {
  readonly cwd?: string
  /** The whole environment of the process; the test's own when absent. */
  readonly env?: NodeJS.ProcessEnv
  /** Milliseconds before the process is killed; none when absent. */
  readonly timeout?: number
}

/** `node dist/cli.js ...args`, to its end: never rejects, whatever the exit code. */
export const infraCli = (args: ReadonlyArray<string>, options: Options = {}): Promise<Finished> =>
  new Promise((resolve) =>
    execFile(process.execPath, [cli, ...args], options, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr })
    )
  )
