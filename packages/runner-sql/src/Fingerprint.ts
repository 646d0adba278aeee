/**
 * What defines a `sql` rule's output besides its options and target, for core's checkpoints
 * (a resumed run skips a rule only while this is unchanged): the content of its SQL file — an
 * inline `sql` and the expectations are options already — and the batch parameters it binds,
 * so a parameter only another rule uses does not make this one run again.
 *
 * It reads the file and nothing else: `plan --resume` asks it without an engine. A file that
 * cannot be read gives a marker instead of its text (the fingerprint then differs, and the rule
 * runs, where the run says why it cannot read it).
 *
 * @example
 * const definition = yield* Fingerprint.of(ctx) // { text: "<the file's SQL>", parameters: ["run_date"] }
 */
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Path from "effect/Path"
import * as Result from "effect/Result"
import { Text } from "@spark-etl/core"
import type { Plugin } from "@spark-etl/core"
import * as Parameters from "./Parameters.js"
import type * as SqlOptions from "./SqlOptions.js"

// The parameters a script and the rule's `assert_empty` reference, each once, in order.
const parameters = (script: string, options: SqlOptions.SqlOptions): ReadonlyArray<string> => [
  ...new Set([
    ...Parameters.names(script),
    ...(options.expect?.assert_empty !== undefined ? Parameters.names(options.expect.assert_empty) : [])
  ])
]

/** The rule's definition beyond its options (see the module's documentation); never fails. */
export const of = (
  ctx: Plugin.ValidateContext<SqlOptions.SqlOptions>
): Effect.Effect<Plugin.Definition, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const { options } = ctx
    if (options.file === undefined) return { text: "", parameters: parameters(options.sql ?? "", options) }
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const bytes = yield* Effect.result(fs.readFile(path.resolve(ctx.batchDir, options.file)))
    const text = Result.flatMap(
      Result.mapError(bytes, (e) => e.message),
      (b) => Result.mapError(Text.decodeUtf8(b), (at) => at.message)
    )
    // Unreadable: every parameter counts (absent), and the marker stands for the text.
    return Result.match(text, {
      onSuccess: (sql) => ({ text: sql, parameters: parameters(sql, options) }),
      onFailure: (message) => ({ text: `unreadable:${message}` })
    })
  })
