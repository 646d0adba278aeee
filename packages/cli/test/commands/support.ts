/**
 * Runs a command handler in this process: its stdout and stderr lines (Effect's Console) are
 * captured, and the environment it reads its settings from is the one given, not this process's.
 * No default site config is read (a test that wants one provides SiteConfig.DefaultPath).
 */
import { ConfigProvider, Console, Effect } from "effect"
import type { ExitCode } from "@spark-etl/core"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as SiteConfig from "../../src/SiteConfig.js"

export interface Handled {
  readonly code: ExitCode
  readonly stdout: ReadonlyArray<string>
  readonly stderr: ReadonlyArray<string>
}

export const handle = async (
  handler: Effect.Effect<ExitCode>,
  env: Record<string, string> = {}
): Promise<Handled> => {
  const stdout: Array<string> = []
  const stderr: Array<string> = []
  const captured: Console.Console = {
    ...globalThis.console,
    log: (...args: ReadonlyArray<unknown>) => void stdout.push(args.map(String).join(" ")),
    error: (...args: ReadonlyArray<unknown>) => void stderr.push(args.map(String).join(" "))
  }
  const code = await Effect.runPromise(
    handler.pipe(
      Effect.provideService(Console.Console, captured),
      Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })),
      Effect.provideService(SiteConfig.DefaultPath, path.join(os.tmpdir(), "no-such-dir", "config.yaml"))
    )
  )
  return { code, stdout, stderr }
}

/** A fresh directory holding `batch.yaml` with `text` and the `output` root it may name. */
export const batchDir = (text: string): { readonly dir: string; readonly file: string } => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-commands-"))
  fs.mkdirSync(path.join(dir, "output"))
  const file = path.join(dir, "batch.yaml")
  fs.writeFileSync(file, text)
  return { dir, file }
}

/** Two SQL rules, the second after the first, one with a target: valid without Spark. */
export const twoRules = `batch: two_rules
targets:
  roots: [output]
rules:
  - id: load
    kind: sql
    target: output/load
    options: { sql: SELECT 1 AS x }
  - id: report
    kind: sql
    depends_on: [load]
    options: { sql: SELECT 2 AS y }
`

export { cyclic } from "../support/Batches.js"
