/**
 * Typed batch parameters. A value arrives as text (command line, environment or the file's
 * default) and is validated against its declared type before anything runs, so a runner only
 * ever sees a value of the declared shape: a date is a calendar date, an int is an integer, an
 * enum is one of its values. Runners pass values to the engine as bound parameters (or as these
 * validated literals), never by pasting text into SQL.
 */
import { Result, Schema } from "effect"

/** The parameter types a batch file may declare. */
export const Type = Schema.Literals(["string", "int", "date", "timestamp", "boolean", "enum"])
export type Type = typeof Type.Type

/** A parameter declaration as written in the batch file. */
export const Spec = Schema.Struct({
  type: Type,
  description: Schema.optionalKey(Schema.String),
  /** Defaults to true when there is no default. */
  required: Schema.optionalKey(Schema.Boolean),
  default: Schema.optionalKey(Schema.Union([Schema.String, Schema.Number, Schema.Boolean])),
  /** The allowed values of an `enum`. */
  values: Schema.optionalKey(Schema.NonEmptyArray(Schema.String)),
  /** Environment variable read when the command line does not give the value. */
  env: Schema.optionalKey(Schema.String)
})
export type Spec = typeof Spec.Type

/** A validated value; `text` is its canonical text (what events and the ledger show). */
export interface Value {
  readonly type: Type
  readonly value: string | number | boolean
  readonly text: string
}

/** The resolved parameters of a run, by name. */
export type Values = Readonly<Record<string, Value>>

const datePattern = /^(\d{4})-(\d{2})-(\d{2})$/
const timestampPattern =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$/

const isCalendarDate = (y: string, m: string, d: string): boolean => {
  const date = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)))
  return (
    date.getUTCFullYear() === Number(y) &&
    date.getUTCMonth() === Number(m) - 1 &&
    date.getUTCDate() === Number(d)
  )
}

/** Parses a value's text against its spec; the error says what was expected. */
export const parse = (spec: Spec, raw: string | number | boolean): Result.Result<Value, string> => {
  const text = String(raw)
  switch (spec.type) {
    case "string":
      return Result.succeed({ type: "string", value: text, text })
    case "int": {
      if (!/^-?\d+$/.test(text)) return Result.fail(`expected an integer, got "${text}"`)
      const n = Number(text)
      if (!Number.isSafeInteger(n)) return Result.fail(`integer out of range: ${text}`)
      return Result.succeed({ type: "int", value: n, text: String(n) })
    }
    case "boolean":
      if (text === "true" || text === "false") {
        return Result.succeed({ type: "boolean", value: text === "true", text })
      }
      return Result.fail(`expected true or false, got "${text}"`)
    case "date": {
      const m = datePattern.exec(text)
      if (!m || !isCalendarDate(m[1]!, m[2]!, m[3]!)) {
        return Result.fail(`expected a date YYYY-MM-DD, got "${text}"`)
      }
      return Result.succeed({ type: "date", value: text, text })
    }
    case "timestamp": {
      const m = timestampPattern.exec(text)
      const valid =
        m !== null &&
        isCalendarDate(m[1]!, m[2]!, m[3]!) &&
        Number(m[4]) < 24 &&
        Number(m[5]) < 60 &&
        Number(m[6]) < 60
      if (!valid) return Result.fail(`expected an ISO-8601 timestamp, got "${text}"`)
      return Result.succeed({ type: "timestamp", value: text, text })
    }
    case "enum": {
      const values: ReadonlyArray<string> = spec.values ?? []
      if (!values.includes(text)) {
        return Result.fail(`expected one of ${values.map((v) => `"${v}"`).join(", ")}, got "${text}"`)
      }
      return Result.succeed({ type: "enum", value: text, text })
    }
  }
}

/** Whether a value must be supplied: explicitly required, or without a default. */
export const isRequired = (spec: Spec): boolean => spec.required ?? spec.default === undefined

/** The parameters as text, as events and the ledger carry them. */
export const toText = (values: Values): Record<string, string> =>
  Object.fromEntries(Object.entries(values).map(([name, v]) => [name, v.text]))
