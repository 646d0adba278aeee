/** A rule's SQL text, inline or read from its file at run time. */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { Failure, Text } from "@spark-etl/core"
import { readFile } from "node:fs/promises"
import * as NodePath from "node:path"
import type * as SqlOptions from "../SqlOptions.js"
import * as Statements from "../Statements.js"

/** The SQL of a rule and the file it came from, if any. */
export interface Script {
  readonly text: string
  readonly file?: string
}

const uri = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//

/** Whether a target location is a path (absolute or a URI) rather than a table name. */
export const isPathLike = (location: string): boolean => NodePath.isAbsolute(location) || uri.test(location)

/** A path as Spark should see it: relative paths start at the batch dir; URIs stay as they are. */
export const resolvePath = (batchDir: string, path: string): string =>
  uri.test(path) ? path : NodePath.resolve(batchDir, path)

/** Where a statement is, for messages: `statement 2 (line 7 of sql/x.sql)`. */
export const where = (script: Script, statement: Statements.Statement, index: number): string =>
  `statement ${index + 1} (line ${statement.line}${script.file !== undefined ? ` of ${script.file}` : ""})`

/**
 * Loads the rule's SQL. The static check already read the file, so failing here means it
 * changed under a running batch: a configuration fault, not the engine's.
 */
export const load = (
  options: SqlOptions.SqlOptions,
  batchDir: string,
  ruleId: string
): Effect.Effect<Script, Failure.SqlError> => {
  if (options.file === undefined) return Effect.succeed({ text: options.sql ?? "" })
  const file = options.file
  return Effect.tryPromise({
    try: () => readFile(NodePath.resolve(batchDir, file)),
    catch: (e) =>
      new Failure.SqlError({
        code: "SQL_FILE_UNREADABLE",
        message: `rule "${ruleId}": cannot read SQL file ${file}: ${e instanceof Error ? e.message : String(e)}`,
        ruleId
      })
  }).pipe(
    Effect.flatMap((bytes) =>
      Result.match(Text.decodeUtf8(bytes), {
        onSuccess: (text) => Effect.succeed({ text, file }),
        onFailure: (at) =>
          Effect.fail(
            new Failure.SqlError({
              code: "SQL_FILE_UNREADABLE",
              message: `rule "${ruleId}": SQL file ${file} is ${at.message}`,
              ruleId
            })
          )
      })
    )
  )
}

/** The rule's SQL split into statements; a script without one is the rule's SQL error. */
export const statements = (
  options: SqlOptions.SqlOptions,
  batchDir: string,
  ruleId: string
): Effect.Effect<
  { readonly script: Script; readonly statements: ReadonlyArray<Statements.Statement> },
  Failure.SqlError
> =>
  Effect.flatMap(load(options, batchDir, ruleId), (script) => {
    const split = Statements.split(script.text)
    return split.length === 0
      ? Effect.fail(
          new Failure.SqlError({
            code: "SQL_EMPTY",
            message: `rule "${ruleId}" has no SQL statement`,
            ruleId
          })
        )
      : Effect.succeed({ script, statements: split })
  })
