/**
 * Splits a SQL script into statements at top-level semicolons. Semicolons inside quoted
 * strings, quoted identifiers and comments do not split; empty statements are dropped.
 * Each statement keeps the 1-based line it starts on, so errors can point into the file.
 */

export interface Statement {
  readonly sql: string
  readonly line: number
}

export const split = (script: string): ReadonlyArray<Statement> => {
  const statements: Array<Statement> = []
  let start = 0
  let line = 1
  let startLine = 1
  let i = 0
  const push = (end: number) => {
    const raw = script.slice(start, end)
    const leading = raw.length - raw.trimStart().length
    const sql = raw.trim()
    const skippedLines = raw.slice(0, leading).split("\n").length - 1
    if (sql.length > 0 && !isOnlyComments(sql)) statements.push({ sql, line: startLine + skippedLines })
  }
  while (i < script.length) {
    const c = script[i]
    const next = script[i + 1]
    if (c === "\n") line++
    if (c === "'" || c === '"' || c === "`") {
      i = skipQuoted(script, i, c, () => line++)
      continue
    }
    if (c === "-" && next === "-") {
      while (i < script.length && script[i] !== "\n") i++
      continue
    }
    if (c === "/" && next === "*") {
      i += 2
      while (i < script.length && !(script[i] === "*" && script[i + 1] === "/")) {
        if (script[i] === "\n") line++
        i++
      }
      i += 2
      continue
    }
    if (c === ";") {
      push(i)
      start = i + 1
      startLine = line
    }
    i++
  }
  push(script.length)
  return statements
}

// Returns the index just past the closing quote; a doubled quote or a backslash escapes.
const skipQuoted = (s: string, open: number, quote: string, onNewline: () => void): number => {
  let i = open + 1
  while (i < s.length) {
    const c = s[i]
    if (c === "\n") onNewline()
    if (c === "\\" && quote !== "`") {
      i += 2
      continue
    }
    if (c === quote) {
      if (s[i + 1] === quote) {
        i += 2
        continue
      }
      return i + 1
    }
    i++
  }
  return i
}

const isOnlyComments = (sql: string): boolean =>
  sql
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .split("\n")
    .every((l) => l.trim() === "" || l.trim().startsWith("--"))
