/** The static check of a `sql` rule: its SQL file, statements, parameters and id. */
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Path from "effect/Path"
import * as Result from "effect/Result"
import { Plugin, Text } from "@spark-etl/core"
import * as Parameters from "../Parameters.js"
import type * as SqlOptions from "../SqlOptions.js"
import * as Statements from "../Statements.js"

const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/

// Issues of one SQL text against the declared parameters, at `path`.
const parameterIssues = (
  sql: string,
  declared: ReadonlyArray<string>,
  path: ReadonlyArray<string>,
  origin: string
): ReadonlyArray<Plugin.Issue> =>
  Parameters.undeclared(sql, declared).map((r) => ({
    path,
    message: `${origin}line ${r.line}: parameter :${r.name} is not declared in the batch's parameters (declared: ${declared.length > 0 ? declared.join(", ") : "none"})`
  }))

/** The static check of a rule's options: its SQL file, statements, parameters and id. */
export const validate = (
  ctx: Plugin.ValidateContext<SqlOptions.SqlOptions>
): Effect.Effect<ReadonlyArray<Plugin.Issue>, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const issues: Array<Plugin.Issue> = []
    const declared = Object.keys(ctx.parameters)
    const { options } = ctx
    if (!identifier.test(ctx.rule.id)) {
      issues.push({
        path: [],
        message: `rule id "${ctx.rule.id}" cannot name the rule's temp view; a sql rule's id must be letters, digits and '_'`
      })
    }
    if (options.file !== undefined) {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const file = path.resolve(ctx.batchDir, options.file)
      const bytes = yield* Effect.result(fs.readFile(file))
      const text = Result.flatMap(bytes, (b) =>
        Result.mapError(Text.decodeUtf8(b), (at) => ({
          message: `SQL file ${options.file} is ${at.message}`
        }))
      )
      if (Result.isFailure(bytes)) {
        issues.push({ path: ["file"], message: `cannot read SQL file ${file}: ${bytes.failure.message}` })
      } else if (Result.isFailure(text)) {
        issues.push({ path: ["file"], message: text.failure.message })
      } else if (Statements.split(text.success).length === 0) {
        issues.push({ path: ["file"], message: `SQL file ${options.file} has no statement` })
      } else {
        issues.push(...parameterIssues(text.success, declared, ["file"], `${options.file}:`))
      }
    }
    if (options.sql !== undefined) {
      if (Statements.split(options.sql).length === 0) issues.push({ path: ["sql"], message: "no statement" })
      issues.push(...parameterIssues(options.sql, declared, ["sql"], ""))
    }
    const assertion = options.expect?.assert_empty
    if (assertion !== undefined) {
      const path = ["expect", "assert_empty"]
      const count = Statements.split(assertion).length
      if (count !== 1) issues.push({ path, message: `expected one query, found ${count} statements` })
      issues.push(...parameterIssues(assertion, declared, path, ""))
    }
    return issues
  })
