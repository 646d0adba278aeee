/**
 * Batch parameters as Spark bound parameters. A statement references a parameter as `:name`
 * (Spark's named parameter marker); the runner binds exactly the parameters a statement
 * references, so Spark receives values, never SQL text built from them.
 *
 * Discovery skips strings, quoted identifiers and comments, the cast operator `::` and the
 * semi-structured path `col:field` (a colon right after a name, `)` or `]`).
 *
 * @example
 * import { Parameters } from "@spark-etl/runner-sql"
 * Parameters.references("SELECT * FROM t WHERE day = :run_date AND note <> ':x'")
 * // [{ name: "run_date", line: 1 }]
 */
import { Parameter } from "@spark-etl/core"
import type { SparkSession } from "@spark-etl/runner-spark-connect"
import * as Lex from "./internal/lex.js"

/** A `:name` marker found in SQL, with the 1-based line it is on. */
export interface Reference {
  readonly name: string
  readonly line: number
}

const identStart = /[A-Za-z_]/
const identPart = /[A-Za-z0-9_]/
// After these a colon is not a parameter marker: `::` casts, `col:field`, `f(x):field`, `a[0]:f`.
const notBefore = /[A-Za-z0-9_:)\]`]/

/** The parameter markers of a SQL text, in order (a name repeats if it is used twice). */
export const references = (sql: string): ReadonlyArray<Reference> => {
  const found: Array<Reference> = []
  Lex.walk(sql, (i, line) => {
    if (sql[i] !== ":") return
    const before = i > 0 ? sql[i - 1]! : " "
    if (notBefore.test(before) || !identStart.test(sql[i + 1] ?? "")) return
    let end = i + 1
    while (end < sql.length && identPart.test(sql[end]!)) end++
    found.push({ name: sql.slice(i + 1, end), line })
  })
  return found
}

/** The distinct names a SQL text references. */
export const names = (sql: string): ReadonlyArray<string> => [...new Set(references(sql).map((r) => r.name))]

/**
 * The value Spark binds for a batch parameter: integers as int (or bigint past 32 bits),
 * booleans as boolean, and dates, timestamps, strings and enums as strings (Spark casts a
 * string compared with a date; write `DATE(:run_date)` to be explicit). A declared parameter
 * with no value binds NULL.
 */
const toSpark = (value: Parameter.Value | undefined): SparkSession.ParamValue => {
  if (value === undefined) return null
  // The one place a secret's value leaves its Redacted wrapper: bound, it goes to Spark alone.
  const plain = Parameter.reveal(value)
  switch (value.type) {
    case "int": {
      const n = Number(plain)
      return n >= -2147483648 && n <= 2147483647 ? n : BigInt(n)
    }
    case "boolean":
      return plain === true
    default:
      return String(plain)
  }
}

/** The bound parameters of one statement: only those it references. */
export const bind = (
  sql: string,
  values: Parameter.Values
): Readonly<Record<string, SparkSession.ParamValue>> =>
  Object.fromEntries(names(sql).map((name) => [name, toSpark(values[name])]))

/** The references of a text whose names are not declared, for the static check. */
export const undeclared = (sql: string, declared: Iterable<string>): ReadonlyArray<Reference> => {
  const known = new Set(declared)
  return references(sql).filter((r) => !known.has(r.name))
}
