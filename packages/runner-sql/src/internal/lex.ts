/**
 * The one SQL scanner of this package: walks a script and reports each character that is SQL
 * code, skipping quoted strings, quoted identifiers and comments, with the 1-based line it is on.
 * Statement splitting, parameter discovery and statement classification all build on it, so
 * they agree on what a string or a comment is.
 */

/**
 * Calls `visit` for each code character (outside strings, quoted identifiers and comments), and
 * `quoted` for each quoted span (`'…'`, `"…"`, `` `…` ``) with its bounds (end exclusive).
 */
export const walk = (
  script: string,
  visit: (index: number, line: number) => void,
  quoted?: (start: number, end: number, quote: string, line: number) => void
): void => {
  let line = 1
  let i = 0
  const countLines = (from: number, to: number) => {
    for (let j = from; j < to && j < script.length; j++) if (script[j] === "\n") line++
  }
  while (i < script.length) {
    const c = script[i]
    const next = script[i + 1]
    if (c === "'" || c === '"' || c === "`") {
      const end = skipQuoted(script, i, c)
      quoted?.(i, end, c, line)
      countLines(i, end)
      i = end
      continue
    }
    if (c === "-" && next === "-") {
      while (i < script.length && script[i] !== "\n") i++
      continue
    }
    if (c === "/" && next === "*") {
      const close = script.indexOf("*/", i + 2)
      const end = close === -1 ? script.length : close + 2
      countLines(i, end)
      i = end
      continue
    }
    visit(i, line)
    if (c === "\n") line++
    i++
  }
}

// Returns the index just past the closing quote; a doubled quote or a backslash escapes.
const skipQuoted = (s: string, open: number, quote: string): number => {
  let i = open + 1
  while (i < s.length) {
    const c = s[i]
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

/** A token of SQL code: a word, a `` `quoted` `` identifier (unescaped) or one symbol character. */
export interface Token {
  readonly kind: "word" | "quoted" | "symbol"
  readonly text: string
  /** Offset of the token in the text, and just past it. */
  readonly start: number
  readonly end: number
}

const wordChar = /[A-Za-z0-9_]/

/** The tokens of a SQL text, in order; string literals and comments are not tokens. */
export const tokens = (sql: string): ReadonlyArray<Token> => {
  const found: Array<Token> = []
  let wordStart: number | undefined
  let last = -2
  const flush = () => {
    if (wordStart === undefined) return
    found.push({ kind: "word", text: sql.slice(wordStart, last + 1), start: wordStart, end: last + 1 })
    wordStart = undefined
  }
  walk(
    sql,
    (i) => {
      // A comment between two runs of letters separates them.
      if (i !== last + 1) flush()
      const c = sql[i]!
      if (wordChar.test(c)) {
        wordStart ??= i
      } else {
        flush()
        if (!/\s/.test(c)) found.push({ kind: "symbol", text: c, start: i, end: i + 1 })
      }
      last = i
    },
    (start, end, quote) => {
      flush()
      last = end - 1
      if (quote === "`") {
        found.push({ kind: "quoted", text: sql.slice(start + 1, end - 1).replaceAll("``", "`"), start, end })
      }
    }
  )
  flush()
  return found
}
