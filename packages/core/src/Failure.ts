/**
 * The failure taxonomy: every way a run can end badly, as tagged errors. Each error knows its
 * category (which fixes the exit code), a stable code (Spark's errorClass where the engine gave
 * one, else ours), the SQLSTATE when known, the rule it belongs to, the engine's own detail and
 * whether a rerun without a code or config change may help (what L2 needs to decide).
 *
 * Runners map their engine errors into these classes in one place (their `classify`), so core
 * never matches message text.
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Formatter from "effect/Formatter"
import * as Result from "effect/Result"
import type * as Event from "./Event.js"
import { ExitCode, forSignal } from "./ExitCode.js"

/** The four failure categories of the architecture; fixes the exit code. */
export type Category = Event.FailureCategory

/** Fields every failure carries. */
export interface Fields {
  /** Stable code: Spark's errorClass where there is one, else ours (e.g. `EXPECTATION_FAILED`). */
  readonly code: string
  readonly message: string
  readonly sqlState?: string
  readonly ruleId?: string
  /** The engine's own detail (server stack, plan); bounded when published. */
  readonly engineDetail?: string
  /** Overrides the category's default answer to "may a plain rerun help?". */
  readonly restartable?: boolean
}

/** Constructor input: `code` defaults to the class's own code. */
export type Input = Omit<Fields, "code"> & { readonly code?: string }

const withCode = (input: Input, code: string): Fields => ({ ...input, code: input.code ?? code })

// ---- capturable: the batch fails, exit 1 ----

/** SQL parse or analysis error: bad SQL, missing table or column. */
export class SqlError extends Data.TaggedError("SqlError")<Fields> {
  readonly category = "capturable" as const
  constructor(input: Input) {
    super(withCode(input, "SQL_ERROR"))
  }
}

/** Runtime data error: ANSI cast failure, divide by zero, constraint on data. */
export class DataError extends Data.TaggedError("DataError")<Fields> {
  readonly category = "capturable" as const
  constructor(input: Input) {
    super(withCode(input, "DATA_ERROR"))
  }
}

/** A declared expectation did not hold: the data is logically inconsistent. */
export class ExpectationFailed extends Data.TaggedError("ExpectationFailed")<Fields> {
  readonly category = "capturable" as const
  constructor(input: Input) {
    super(withCode(input, "EXPECTATION_FAILED"))
  }
}

/** Writing a target, or cleaning it before the batch, failed. */
export class TargetError extends Data.TaggedError("TargetError")<Fields> {
  readonly category = "capturable" as const
  constructor(input: Input) {
    super(withCode(input, "TARGET_ERROR"))
  }
}

// ---- system: the platform failed, exit 2 ----

/** The engine cannot be reached (connection refused, DNS, TLS). */
export class EngineUnreachable extends Data.TaggedError("EngineUnreachable")<Fields & Pending> {
  readonly category = "system" as const
  constructor(input: Input & Pending) {
    super(withCode(input, "ENGINE_UNREACHABLE"))
  }
}

/** What a fence that failed for want of an end leaves to the next one. */
interface Pending {
  /**
   * Engine operations the fence interrupted whose end it did not see: the run ledger keeps
   * them, and the next fence waits for their end too (the engine interrupts an operation only
   * once, so it would not name them again).
   */
  readonly pendingOperations?: ReadonlyArray<string>
}

/** The engine session or driver went away mid-run. */
export class SessionLost extends Data.TaggedError("SessionLost")<Fields> {
  readonly category = "system" as const
  constructor(input: Input) {
    super(withCode(input, "SESSION_LOST"))
  }
}

/** A rule or the batch ran past its deadline. */
export class DeadlineExceeded extends Data.TaggedError("DeadlineExceeded")<Fields> {
  readonly category = "system" as const
  constructor(input: Input) {
    super(withCode(input, "DEADLINE_EXCEEDED"))
  }
}

/** An unexpected defect (a bug, a broken contract); its stack is in `engineDetail`. */
export class Defect extends Data.TaggedError("Defect")<Fields> {
  readonly category = "system" as const
  constructor(input: Input) {
    super(withCode(input, "DEFECT"))
  }
}

// ---- rejected: refused before any side effect, exit 3 ----

/** One problem found in a batch file or its inputs, with where it is. */
export interface ConfigIssue {
  /** The batch file, or `command line` / `environment` for parameters given there. */
  readonly file: string
  readonly line: number
  readonly column: number
  /** The field, e.g. `rules[2].depends_on[0]`. */
  readonly field: string
  readonly message: string
}

/** Renders an issue as `file:line:column: field: message`. */
export const formatIssue = (issue: ConfigIssue): string =>
  `${issue.file}:${issue.line}:${issue.column}: ${issue.field}: ${issue.message}`

/** The batch was refused before any side effect: invalid file, unsafe target, batch held. */
export class ConfigRejected extends Data.TaggedError("ConfigRejected")<
  Fields & { readonly issues: ReadonlyArray<ConfigIssue> }
> {
  readonly category = "rejected" as const
  constructor(input: Input & { readonly issues: ReadonlyArray<ConfigIssue> }) {
    super({ ...withCode(input, "CONFIG_INVALID"), issues: input.issues })
  }
}

/** Builds a `ConfigRejected` whose message lists every issue, one per line. */
export const rejected = (issues: ReadonlyArray<ConfigIssue>, code = "CONFIG_INVALID"): ConfigRejected =>
  new ConfigRejected({
    code,
    issues,
    message: `batch rejected (${issues.length} ${issues.length === 1 ? "problem" : "problems"}):\n${issues
      .map(formatIssue)
      .join("\n")}`
  })

// ---- interrupted: an operator or the scheduler stopped the run, exit 130 / 143 ----

/** The run was stopped by a signal (or interrupted by its caller). */
export class Interrupted extends Data.TaggedError("Interrupted")<
  Fields & { readonly signal?: "SIGINT" | "SIGTERM" }
> {
  readonly category = "interrupted" as const
  constructor(input: Input & { readonly signal?: "SIGINT" | "SIGTERM" }) {
    super({ ...withCode(input, "INTERRUPTED"), ...(input.signal ? { signal: input.signal } : {}) })
  }
}

/** What a rule's run may fail with. */
export type RuleFailure =
  | SqlError
  | DataError
  | ExpectationFailed
  | TargetError
  | EngineUnreachable
  | SessionLost
  | DeadlineExceeded
  | Defect

/** Every failure of the taxonomy. */
export type Failure = RuleFailure | ConfigRejected | Interrupted

const tags: ReadonlySet<string> = new Set([
  "SqlError",
  "DataError",
  "ExpectationFailed",
  "TargetError",
  "EngineUnreachable",
  "SessionLost",
  "DeadlineExceeded",
  "Defect",
  "ConfigRejected",
  "Interrupted"
])

/** Whether a value is one of the taxonomy's failures. */
export const isFailure = (u: unknown): u is Failure =>
  typeof u === "object" && u !== null && "_tag" in u && typeof u._tag === "string" && tags.has(u._tag)

/**
 * The same failure with every text passed through `f` — message, engine detail, issues — e.g.
 * to remove a secret that an engine quoted back. Rebuilt, not mutated, so no stack keeps the
 * old text.
 */
export const mapText = <F extends Failure>(failure: F, f: (text: string) => string): F =>
  rebuilt(failure, fieldsOf(failure, f), f)

// The fields every failure has, each text passed through `f`.
const fieldsOf = (failure: Failure, f: (text: string) => string): Fields => ({
  code: failure.code,
  message: f(failure.message),
  ...(failure.sqlState !== undefined ? { sqlState: failure.sqlState } : {}),
  ...(failure.ruleId !== undefined ? { ruleId: failure.ruleId } : {}),
  ...(failure.engineDetail !== undefined ? { engineDetail: f(failure.engineDetail) } : {}),
  ...(failure.restartable !== undefined ? { restartable: failure.restartable } : {})
})

// The same kind of failure with other fields; what only some kinds carry is kept.
const rebuilt = <F extends Failure>(failure: F, fields: Fields, f: (text: string) => string): F => {
  const made: Failure = (() => {
    switch (failure._tag) {
      case "SqlError":
        return new SqlError(fields)
      case "DataError":
        return new DataError(fields)
      case "ExpectationFailed":
        return new ExpectationFailed(fields)
      case "TargetError":
        return new TargetError(fields)
      case "EngineUnreachable":
        return new EngineUnreachable({
          ...fields,
          ...(failure.pendingOperations !== undefined ? { pendingOperations: failure.pendingOperations } : {})
        })
      case "SessionLost":
        return new SessionLost(fields)
      case "DeadlineExceeded":
        return new DeadlineExceeded(fields)
      case "Defect":
        return new Defect(fields)
      case "ConfigRejected":
        return new ConfigRejected({
          ...fields,
          issues: failure.issues.map((i) => ({ ...i, message: f(i.message) }))
        })
      case "Interrupted":
        return new Interrupted({
          ...fields,
          ...(failure.signal !== undefined ? { signal: failure.signal } : {})
        })
    }
  })()
  return made as F
}

/**
 * What a failed or thrown value says, for a message that goes on after a colon: never empty,
 * never `[object Object]`.
 */
const said = (u: unknown): string => {
  if (u instanceof Error) {
    if (u.message.trim() !== "") return u.message
    // A tagged error often says what it has to say in its fields, not in a message.
    const fields = Object.entries(u).filter(([key]) => key !== "_tag")
    return fields.length > 0
      ? `${u.name} ${Formatter.format(Object.fromEntries(fields))}`
      : `${u.name} without a message`
  }
  if (typeof u === "string") return u.trim() !== "" ? u : "an empty string"
  if (u === undefined || u === null) return `no error value (${String(u)})`
  return Formatter.format(u)
}

/**
 * Holds a runner to the failure contract where core receives its failures: a value that is not
 * one of these failures becomes a `Defect` naming the rule kind and what it failed with, and a
 * failure without a message gets one saying so, its kind and code kept.
 */
export const fromRunner =
  (kind: string, ruleId?: string) =>
  (error: unknown): RuleFailure => {
    if (isFailure(error) && error._tag !== "ConfigRejected" && error._tag !== "Interrupted") {
      if (error.message.trim() !== "") return error
      const keep = (text: string) => text
      return rebuilt(
        error,
        {
          ...fieldsOf(error, keep),
          message: `the "${kind}" runner gave ${error._tag} ${error.code} without a message`
        },
        keep
      )
    }
    return new Defect({
      message: `the "${kind}" runner broke its contract: it failed with ${said(error)}, not a spark-etl failure`,
      engineDetail:
        error instanceof Error && error.stack !== undefined ? `${said(error)}\n${error.stack}` : said(error),
      ...(ruleId !== undefined ? { ruleId } : {})
    })
  }

/** Whether a plain rerun (no code or config change) may succeed. */
export const restartMayHelp = (failure: Failure): boolean =>
  failure.restartable ?? (failure.category === "system" || failure.category === "interrupted")

/** The process exit code for a failure. */
export const toExitCode = (failure: Failure): ExitCode => {
  switch (failure.category) {
    case "capturable":
      return ExitCode.BatchFailed
    case "system":
      return ExitCode.SystemFailure
    case "rejected":
      return ExitCode.Rejected
    case "interrupted":
      return forSignal(failure._tag === "Interrupted" ? (failure.signal ?? "SIGINT") : "SIGINT")
  }
}

/** Bound on `engineDetail` in events: a Kafka message is no place for a 2 MB server stack. */
const maxDetailLength = 8192

/** The failure as L2 and the dashboards see it, in the event payload. */
export const toEventPayload = (failure: Failure): Event.FailurePayload => ({
  category: failure.category,
  code: failure.code,
  message: failure.message,
  restartMayHelp: restartMayHelp(failure),
  ...(failure.sqlState !== undefined ? { sqlState: failure.sqlState } : {}),
  ...(failure.engineDetail !== undefined
    ? {
        engineDetail:
          failure.engineDetail.length > maxDetailLength
            ? `${failure.engineDetail.slice(0, maxDetailLength)}… (truncated)`
            : failure.engineDetail
      }
    : {})
})

/**
 * Classifies how a rule's fiber ended. A typed failure is kept as is; a defect (a throw, a
 * broken contract) becomes a system `Defect` carrying the pretty cause with its stack; a cause
 * made only of interruptions becomes `Interrupted`.
 */
export const fromCause = (cause: Cause.Cause<unknown>, ruleId?: string): Failure => {
  const error = Cause.findError(cause)
  if (Result.isSuccess(error) && isFailure(error.success)) return error.success
  if (Cause.hasInterruptsOnly(cause)) {
    return new Interrupted({ message: "interrupted", ...(ruleId !== undefined ? { ruleId } : {}) })
  }
  const squashed = Cause.squash(cause)
  return new Defect({
    message: `unexpected defect: ${said(squashed)}`,
    engineDetail: Cause.pretty(cause),
    ...(ruleId !== undefined ? { ruleId } : {})
  })
}
