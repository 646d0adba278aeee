/**
 * The one SQL scanner of this package: walks a script and reports each character that is SQL
 * code, skipping quoted strings, quoted identifiers and comments, with the 1-based line it is on.
 * Statement splitting and parameter discovery both build on it, so they agree on what a
 * string or a comment is.
 */

/** Calls `visit` for each code character (outside strings, quoted identifiers and comments). */
export const walk = (script: string, visit: (index: number, line: number) => void): void => {
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
