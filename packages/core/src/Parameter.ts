/**
 * Typed batch parameters. A value arrives as text (command line, environment or the file's
 * default) and is validated against its declared type before anything runs, so a runner only
 * ever sees a value of the declared shape: a date is a calendar date, an int is an integer, an
 * enum is one of its values. Runners pass values to the engine as bound parameters (or as these
 * validated literals), never by pasting text into SQL.
 *
 * A secret parameter (`secret: true`, or read from `env` under a name that says token,
 * password, secret, key or credential) is held Redacted; its text is `***` wherever a run shows
 * parameters, and `scrubber` removes its value from any text that quotes it back (an engine's
 * error message, a cause chain).
 */
import * as Context from "effect/Context"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"

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
  env: Schema.optionalKey(Schema.String),
  /** Never shown: Redacted in memory, `***` in events, logs, the ledger and error texts. */
  secret: Schema.optionalKey(Schema.Boolean)
})
export type Spec = typeof Spec.Type

/** A plain parameter value. */
export type Plain = string | number | boolean

/**
 * A validated value; `text` is its canonical text (what events and the ledger show: `***` for
 * a secret, whose `value` is Redacted — `reveal` gives it to the engine, and nothing else).
 */
export interface Value {
  readonly type: Type
  readonly value: Plain | Redacted.Redacted<Plain>
  readonly text: string
  readonly secret?: boolean
}

/** What a secret's value is replaced by wherever it would show. */
export const masked = "***"

// Names that say "this is a credential" when the value comes from the environment.
const secretName = /token|password|passwd|secret|key|credential/i

/** Whether a name says "credential" (token, password, secret, key…). */
export const looksSecret = (name: string): boolean => secretName.test(name)

/** Whether a declared parameter is secret: as declared, else by its name when read from env. */
export const isSecret = (name: string, spec: Spec): boolean =>
  spec.secret ?? (spec.env !== undefined && secretName.test(name))

/** The value itself, for the engine only. */
export const reveal = (value: Value): Plain =>
  Redacted.isRedacted(value.value) ? Redacted.value(value.value) : value.value

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

/**
 * Parses a value's text against its spec; the error says what was expected (and, unless the
 * value is secret, what was given).
 */
export const parse = (spec: Spec, raw: Plain, secret = false): Result.Result<Value, string> =>
  Result.mapBoth(parsePlain(spec, raw, secret ? masked : String(raw)), {
    onFailure: (message) => message,
    onSuccess: (v): Value => (secret ? { ...v, value: Redacted.make(v.value), text: masked, secret } : v)
  })

const parsePlain = (
  spec: Spec,
  raw: Plain,
  shown: string
): Result.Result<{ readonly type: Type; readonly value: Plain; readonly text: string }, string> => {
  const text = String(raw)
  switch (spec.type) {
    case "string":
      return Result.succeed({ type: "string", value: text, text })
    case "int": {
      if (!/^-?\d+$/.test(text)) return Result.fail(`expected an integer, got "${shown}"`)
      const n = Number(text)
      if (!Number.isSafeInteger(n)) return Result.fail(`integer out of range: ${shown}`)
      return Result.succeed({ type: "int", value: n, text: String(n) })
    }
    case "boolean":
      if (text === "true" || text === "false") {
        return Result.succeed({ type: "boolean", value: text === "true", text })
      }
      return Result.fail(`expected true or false, got "${shown}"`)
    case "date": {
      const m = datePattern.exec(text)
      if (!m || !isCalendarDate(m[1]!, m[2]!, m[3]!)) {
        return Result.fail(`expected a date YYYY-MM-DD, got "${shown}"`)
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
      if (!valid) return Result.fail(`expected an ISO-8601 timestamp, got "${shown}"`)
      return Result.succeed({ type: "timestamp", value: text, text })
    }
    case "enum": {
      const values: ReadonlyArray<string> = spec.values ?? []
      if (!values.includes(text)) {
        return Result.fail(`expected one of ${values.map((v) => `"${v}"`).join(", ")}, got "${shown}"`)
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

/** The real texts of the secret values, for scrubbing. */
const secretTexts = (values: Values): ReadonlyArray<string> =>
  Object.values(values).flatMap((v) => (v.secret === true ? [String(reveal(v))] : []))

// A value as a message may quote it back: as is, with its quotes doubled (SQL) or any character
// escaped by backslashes (Spark's literals, JSON). One pattern covers them all.
const quotedForms = (secret: string): RegExp =>
  new RegExp(
    [...secret]
      .map((c) => {
        const literal = c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
        return c === "'" || c === '"' ? `(?:${literal}${literal}|\\\\{0,2}${literal})` : `\\\\{0,2}${literal}`
      })
      .join(""),
    "g"
  )

/** Replaces every secret value of `values` (in its quoted forms too) by `***` in a text. */
export const scrubber = (values: Values): ((text: string) => string) => {
  const patterns = secretTexts(values)
    .filter((t) => t.length > 0)
    .sort((a, b) => b.length - a.length)
    .map(quotedForms)
  if (patterns.length === 0) return (text) => text
  return (text) => patterns.reduce((t, pattern) => t.replace(pattern, masked), text)
}

/**
 * The secret values in force for the current run, for loggers: a line that quotes one (an
 * engine message, a stack) has it replaced before it is written anywhere.
 */
export const Secrets = Context.Reference<(text: string) => string>("@spark-etl/core/Parameter/Secrets", {
  defaultValue: () => (text: string) => text
})
