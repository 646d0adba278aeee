/**
 * Splits a SQL script into statements at top-level semicolons. Semicolons inside quoted
 * strings, quoted identifiers and comments do not split; empty statements are dropped.
 * Each statement keeps the 1-based line it starts on, so errors can point into the file.
 *
 * @example
 * import { Statements } from "@spark-etl/runner-sql"
 * Statements.split("CREATE TEMP VIEW v AS SELECT 1;\nSELECT * FROM v")
 * // [{ sql: "CREATE TEMP VIEW v AS SELECT 1", line: 1 }, { sql: "SELECT * FROM v", line: 2 }]
 */
import * as Lex from "./internal/lex.js"

/** One statement of a script and the line it starts on. */
export interface Statement {
  readonly sql: string
  readonly line: number
}

/** The statements of a script, in order. */
export const split = (script: string): ReadonlyArray<Statement> => {
  const statements: Array<Statement> = []
  let start = 0
  let startLine = 1
  const push = (end: number) => {
    const raw = script.slice(start, end)
    const leading = raw.length - raw.trimStart().length
    const sql = raw.trim()
    const skippedLines = raw.slice(0, leading).split("\n").length - 1
    if (sql.length > 0 && !isOnlyComments(sql)) statements.push({ sql, line: startLine + skippedLines })
  }
  Lex.walk(script, (i, line) => {
    if (script[i] !== ";") return
    push(i)
    start = i + 1
    startLine = line
  })
  push(script.length)
  return statements
}

const isOnlyComments = (sql: string): boolean => {
  let code = false
  Lex.walk(sql, (i) => {
    if (!/\s/.test(sql[i]!)) code = true
  })
  return !code
}
