/**
 * Splits a SQL script into statements at top-level semicolons. Semicolons inside quoted
 * strings, quoted identifiers and comments do not split; empty statements are dropped.
 * Each statement keeps the 1-based line it starts on, so errors can point into the file.
 *
 * `classify` tells, from the text alone, what a statement would do if Spark ran it, so that
 * preflight only ever sends Spark what is side-effect free: a query (analysed, never
 * executed), a session temp view, or a `SET` of a session configuration. Everything else is a
 * command. The classifier errs towards "command": a query it cannot vouch for is not sent.
 *
 * @example
 * import { Statements } from "@spark-etl/runner-sql"
 * Statements.split("CREATE TEMP VIEW v AS SELECT 1;\nSELECT * FROM v")
 * // [{ sql: "CREATE TEMP VIEW v AS SELECT 1", line: 1 }, { sql: "SELECT * FROM v", line: 2 }]
 * Statements.classify("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x")
 * // { _tag: "Command", keyword: "INSERT" }
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

/** What a statement would do if Spark ran it. */
export type Kind =
  /** A query: Spark analyses it and returns a plan; nothing runs until an action. */
  | { readonly _tag: "Query" }
  /** `CREATE [OR REPLACE] TEMP[ORARY] VIEW name …`: a lazy view of this session only. */
  | { readonly _tag: "TempView"; readonly view: string; readonly replace: boolean }
  /** `SET key = value` (or `SET TIME ZONE …`): a configuration of this session. */
  | { readonly _tag: "SetConf"; readonly key: string }
  /** `SET`, `SET -v`, `SET key`: reads configuration. */
  | { readonly _tag: "ShowConf" }
  /** Anything else: DML, DDL, caching, `USE`, session variables… `keyword` names it. */
  | { readonly _tag: "Command"; readonly keyword: string }

const queryStarts: ReadonlySet<string> = new Set(["SELECT", "WITH", "VALUES", "TABLE", "FROM", "("])

// Words that make a statement starting like a query a command (`WITH … INSERT`, `FROM t
// INSERT …`) or that have no business in a query. None of them is a function name, so a
// query naming one is at worst not analysed.
const commandWords: ReadonlySet<string> = new Set([
  "INSERT",
  "UPDATE",
  "DELETE",
  "MERGE",
  "CREATE",
  "DROP",
  "ALTER",
  "TRUNCATE",
  "CACHE",
  "UNCACHE",
  "REFRESH",
  "LOAD",
  "EXECUTE",
  "CALL",
  "DECLARE"
])

// Spark runs these while it analyses them, even under EXPLAIN: EXECUTE IMMEDIATE runs its SQL
// in the analyser, and a procedure call may too. Neither is a function name.
const runWhenAnalysed: ReadonlySet<string> = new Set(["EXECUTE", "CALL"])

// SQL scripting (which the splitter does not understand) and EXPLAIN itself.
const notExplainableStarts: ReadonlySet<string> = new Set([
  "BEGIN",
  "DECLARE",
  "IF",
  "WHILE",
  "REPEAT",
  "FOR",
  "LOOP",
  "LEAVE",
  "ITERATE",
  "CASE",
  "EXPLAIN"
])

const upper = (t: Lex.Token | undefined): string =>
  t === undefined ? "" : t.kind === "quoted" ? `\`${t.text}\`` : t.text.toUpperCase()

const command = (keyword: string): Kind => ({ _tag: "Command", keyword })

const hasCommandWord = (tokens: ReadonlyArray<Lex.Token>): string | undefined =>
  tokens.map((t) => (t.kind === "word" ? t.text.toUpperCase() : "")).find((w) => commandWords.has(w))

const tempView = (tokens: ReadonlyArray<Lex.Token>): Kind | undefined => {
  let i = 1
  const replace = upper(tokens[1]) === "OR" && upper(tokens[2]) === "REPLACE"
  if (replace) i += 2
  // A global temp view is visible to every session of the application: not session-local.
  if (!["TEMP", "TEMPORARY"].includes(upper(tokens[i])) || upper(tokens[i + 1]) !== "VIEW") return undefined
  i += 2
  if (upper(tokens[i]) === "IF" && upper(tokens[i + 1]) === "NOT" && upper(tokens[i + 2]) === "EXISTS") i += 3
  const name = tokens[i]
  if (name === undefined || name.kind === "symbol" || tokens[i + 1]?.text === ".") return undefined
  if (hasCommandWord(tokens.slice(i + 1)) !== undefined) return undefined
  return { _tag: "TempView", view: name.text, replace }
}

const set = (sql: string, tokens: ReadonlyArray<Lex.Token>): Kind => {
  const next = upper(tokens[1])
  if (next === "VAR" || next === "VARIABLE") return command("SET VARIABLE")
  if (next === "TIME" && upper(tokens[2]) === "ZONE")
    return { _tag: "SetConf", key: "spark.sql.session.timeZone" }
  // Spark reads `SET key=value` raw: the key is everything up to the first `=`.
  const rest = sql.slice(tokens[0]!.end)
  const eq = rest.indexOf("=")
  if (eq === -1) return { _tag: "ShowConf" }
  const key = rest
    .slice(0, eq)
    .trim()
    .replace(/^`(.*)`$/s, "$1")
  return key === "" ? command("SET") : { _tag: "SetConf", key }
}

/** What a statement would do if Spark ran it (see the module's documentation). */
export const classify = (sql: string): Kind => {
  const tokens = Lex.tokens(sql)
  const head = upper(tokens[0])
  if (queryStarts.has(head)) {
    const word = hasCommandWord(tokens)
    return word === undefined ? { _tag: "Query" } : command(word)
  }
  if (head === "CREATE") return tempView(tokens) ?? command("CREATE")
  if (head === "SET") return set(sql, tokens)
  return command(head)
}

/**
 * Whether Spark can parse the statement under `EXPLAIN` without running any of it (checked on
 * Spark 4.2: EXPLAIN of INSERT, MERGE, CTAS, DROP or CACHE changes nothing). Not so for
 * `EXECUTE IMMEDIATE` or `CALL` anywhere in it, nor for SQL scripting.
 */
export const explainable = (sql: string): boolean => {
  const tokens = Lex.tokens(sql)
  return (
    !notExplainableStarts.has(upper(tokens[0])) &&
    !tokens.some((t) => t.kind === "word" && runWhenAnalysed.has(t.text.toUpperCase()))
  )
}

/** A plain `CREATE TEMP VIEW` rewritten as `CREATE OR REPLACE TEMP VIEW`; other statements as they are. */
export const orReplace = (sql: string): string => {
  const kind = classify(sql)
  if (kind._tag !== "TempView" || kind.replace) return sql
  const create = Lex.tokens(sql)[0]!
  return `${sql.slice(0, create.end)} OR REPLACE${sql.slice(create.end)}`
}
