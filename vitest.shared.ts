/**
 * The one vitest configuration of the workspace; each project's vitest.config.ts says only how it
 * differs (the servers it needs, its timeouts).
 */
import * as path from "node:path"
import { defineConfig, type ViteUserConfig } from "vitest/config"

const root = import.meta.dirname

// Workspace packages resolve to their sources in tests (the `@spark-etl/source` export condition),
// on the server side too: vitest runs tests in Vite's SSR environment.
const conditions = ["@spark-etl/source"]

export interface ProjectTests {
  /** The real servers the tests need, started (or taken from the environment) once per run. */
  readonly needs?: ReadonlyArray<"spark" | "kafka" | "postgres" | "kafka-secure" | "hdfs">
  /** Per test; hooks get the time of starting a server on top. */
  readonly testTimeoutMs?: number
  /** False when test files must not share the servers at the same time (CLI processes on Spark). */
  readonly fileParallelism?: boolean
  /** Test files, relative to the project (default `test/**\/*.test.ts`). */
  readonly include?: ReadonlyArray<string>
}

export const project = (options: ProjectTests = {}): ViteUserConfig => {
  const needs = options.needs ?? []
  return defineConfig({
    resolve: { conditions },
    ssr: { resolve: { conditions } },
    test: {
      include: [...(options.include ?? ["test/**/*.test.ts"])],
      setupFiles: [path.join(root, "tools/testing/src/vitestSetup.ts")],
      // The temporary folder's first: its teardown, last, runs once the servers have stopped.
      globalSetup: [
        path.join(root, "tools/testing/src/vitestTmpdir.ts"),
        ...(needs.length > 0 ? [path.join(root, "tools/infra/src/vitestGlobalSetup.ts")] : [])
      ],
      ...(needs.length > 0 ? { provide: { infraNeeds: [...needs] } } : {}),
      testTimeout: options.testTimeoutMs ?? (needs.length > 0 ? 120_000 : 30_000),
      hookTimeout: needs.length > 0 ? 240_000 : 60_000,
      ...(options.fileParallelism === undefined ? {} : { fileParallelism: options.fileParallelism })
    }
  })
}
