/**
 * Every failure of the Spark Connect client, as a flat union of tagged errors, with what callers
 * need to act on one: its category, whether a retry may help, and its text for a log line. (A
 * session makes them from gRPC failures in one place, internal/Classify.ts, which reads the
 * server's google.rpc.ErrorInfo; this module loads neither the connection nor protobuf-es, so a process
 * that only names or classifies these errors, like `spark-etl validate`, does not pay for them.)
 * Also here, outside the union, the two a session can meet before any RPC:
 * `ConnectionStringError` and, for `local[N]`, `LocalServerError` (defined by the local entry).
 *
 * @example
 * import * as SparkError from "@spark-etl/runner-spark-connect/SparkError"
 * const onFailure = (e: SparkError.SparkError) =>
 *   `${e._tag} ${e.errorClass ?? ""} retryable=${SparkError.isRetryable(e)}`
 */
import * as Data from "effect/Data"
import type { FetchErrorDetailsResponse } from "./generated/spark/connect/base_pb.js"

/** A connection string that cannot be used, naming the offending part. */
export class ConnectionStringError extends Data.TaggedError("ConnectionStringError")<{
  readonly message: string
  /** The part at fault: `scheme`, `host`, `port` or a parameter name. */
  readonly field: string
}> {}

// SparkSession.make starts a local server for `local[N]`, so its failure is one of ours too.
export { LocalServerError } from "./local/errors.js"

/** One link of the server-side cause chain, as FetchErrorDetails reports it. */
export interface CauseLink {
  readonly classes: ReadonlyArray<string>
  readonly message: string
  readonly errorClass?: string | undefined
  readonly sqlState?: string | undefined
  readonly messageParameters: Readonly<Record<string, string>>
}

/** What every Spark error carries, whichever its kind. */
export interface Detail {
  /** The server's message (or ours, for client-side failures). */
  readonly message: string
  /** The gRPC status code name, e.g. `INTERNAL`, `UNAVAILABLE`. */
  readonly grpcCode: string
  /** Spark's stable error class, e.g. `UNRESOLVED_COLUMN.WITH_SUGGESTION`. */
  readonly errorClass?: string | undefined
  /** The SQL standard state, e.g. `42703`. */
  readonly sqlState?: string | undefined
  readonly messageParameters: Readonly<Record<string, string>>
  /** The server's error id, the key for FetchErrorDetails. */
  readonly errorId?: string | undefined
  /** The server exception's class hierarchy, most specific first. */
  readonly classes: ReadonlyArray<string>
  /** The cause chain fetched from the server, outermost first (empty when not fetched). */
  readonly causes: ReadonlyArray<CauseLink>
  /** The operation during which the error happened, when there was one. */
  readonly operationId?: string | undefined
}

/** SQL that does not parse (PARSE_SYNTAX_ERROR and friends). */
export class SparkParseError extends Data.TaggedError("SparkParseError")<Detail> {}
/** SQL that parses but does not resolve: unknown column, table, function, type mismatch. */
export class SparkAnalysisError extends Data.TaggedError("SparkAnalysisError")<Detail> {}
/** A data error at run time: ANSI cast, divide by zero, overflow, bad date (SQLSTATE class 22). */
export class SparkDataError extends Data.TaggedError("SparkDataError")<Detail> {}
/** Any other failure the server reported for the operation (I/O, write, user-raised error…). */
export class SparkExecutionError extends Data.TaggedError("SparkExecutionError")<Detail> {}
/** The operation was interrupted (by tag, id, all) or cancelled. */
export class SparkInterrupted extends Data.TaggedError("SparkInterrupted")<Detail> {}
/** The server cannot be reached or went away (gRPC UNAVAILABLE, refused, reset). */
export class SparkUnavailable extends Data.TaggedError("SparkUnavailable")<Detail> {}
/** The session is gone, closed or was replaced on the server (INVALID_HANDLE.SESSION_*). */
export class SparkSessionLost extends Data.TaggedError("SparkSessionLost")<Detail> {}
/** A result stream broke in a way reattach may repair. */
export class SparkStreamBroken extends Data.TaggedError("SparkStreamBroken")<Detail> {}
/** The server no longer knows the operation: a broken stream reattach cannot repair. */
export class SparkOperationLost extends Data.TaggedError("SparkOperationLost")<Detail> {}
/** An RPC ran past its deadline. */
export class SparkDeadlineExceeded extends Data.TaggedError("SparkDeadlineExceeded")<Detail> {}
/** The server refused our credentials (UNAUTHENTICATED, PERMISSION_DENIED). */
export class SparkUnauthenticated extends Data.TaggedError("SparkUnauthenticated")<Detail> {}
/** The server answered something this client does not understand. */
export class SparkProtocolError extends Data.TaggedError("SparkProtocolError")<Detail> {}
/** The server's Spark version lacks what the call needs; the message names the version needed. */
export class SparkUnsupported extends Data.TaggedError("SparkUnsupported")<Detail> {}

/** Every error of the client. */
export type SparkError =
  | SparkParseError
  | SparkAnalysisError
  | SparkDataError
  | SparkExecutionError
  | SparkInterrupted
  | SparkUnavailable
  | SparkSessionLost
  | SparkStreamBroken
  | SparkOperationLost
  | SparkDeadlineExceeded
  | SparkUnauthenticated
  | SparkProtocolError
  | SparkUnsupported

/** The tag of each error kind. */
export type Tag = SparkError["_tag"]

/** How a batch runner treats each kind (core's failure categories). */
export const category: { readonly [K in Tag]: "capturable" | "system" | "interrupted" } = {
  SparkParseError: "capturable",
  SparkAnalysisError: "capturable",
  SparkDataError: "capturable",
  SparkExecutionError: "capturable",
  SparkInterrupted: "interrupted",
  SparkUnavailable: "system",
  SparkSessionLost: "system",
  SparkStreamBroken: "system",
  SparkOperationLost: "system",
  SparkDeadlineExceeded: "system",
  SparkUnauthenticated: "system",
  SparkProtocolError: "system",
  SparkUnsupported: "system"
}

/**
 * Whether retrying the same call may succeed. Follows the official clients (retry UNAVAILABLE
 * and a broken reattachable stream), except: a deadline is the caller's own limit, so it is
 * never retried here.
 */
export const retryable: { readonly [K in Tag]: boolean } = {
  SparkParseError: false,
  SparkAnalysisError: false,
  SparkDataError: false,
  SparkExecutionError: false,
  SparkInterrupted: false,
  SparkUnavailable: true,
  SparkSessionLost: false,
  SparkStreamBroken: true,
  SparkOperationLost: false,
  SparkDeadlineExceeded: false,
  SparkUnauthenticated: false,
  SparkProtocolError: false,
  SparkUnsupported: false
}

/** Whether retrying may help, by the {@link retryable} table. */
export const isRetryable = (error: SparkError): boolean => retryable[error._tag]

/** Whether a value is one of this module's errors. */
export const isSparkError = (u: unknown): u is SparkError =>
  typeof u === "object" && u !== null && "_tag" in u && typeof u._tag === "string" && u._tag in retryable

const constructors: { readonly [K in Tag]: new (detail: Detail) => Extract<SparkError, { _tag: K }> } = {
  SparkParseError,
  SparkAnalysisError,
  SparkDataError,
  SparkExecutionError,
  SparkInterrupted,
  SparkUnavailable,
  SparkSessionLost,
  SparkStreamBroken,
  SparkOperationLost,
  SparkDeadlineExceeded,
  SparkUnauthenticated,
  SparkProtocolError,
  SparkUnsupported
}

/** Builds an error of the given kind; the fields not given are empty. */
export const make = <K extends Tag>(
  tag: K,
  detail: Partial<Detail> & { readonly message: string }
): Extract<SparkError, { _tag: K }> =>
  new constructors[tag]({
    grpcCode: "OK",
    messageParameters: {},
    classes: [],
    causes: [],
    ...detail
  }) as Extract<SparkError, { _tag: K }>

/** The decoded google.rpc.ErrorInfo of a failure, when the server attached one. */
export interface ErrorInfo {
  readonly reason: string
  readonly classes: ReadonlyArray<string>
  readonly errorClass?: string | undefined
  readonly sqlState?: string | undefined
  readonly messageParameters: Readonly<Record<string, string>>
  readonly errorId?: string | undefined
}

const isBlank = (text: string | undefined): boolean => text === undefined || text.trim() === ""

/**
 * A message rendered from an error class and its parameters, for when the server sent no text:
 * `[TABLE_OR_VIEW_NOT_FOUND] relationName=`x``. Undefined when there is neither.
 */
export const renderMessage = (
  errorClass: string | undefined,
  messageParameters: Readonly<Record<string, string>>
): string | undefined => {
  const parameters = Object.entries(messageParameters).map(([k, v]) => `${k}=${v}`)
  if (errorClass === undefined && parameters.length === 0) return undefined
  return [...(errorClass !== undefined ? [`[${errorClass}]`] : []), ...parameters].join(" ")
}

const errorClassPattern = String.raw`[A-Z][A-Z0-9_]*(?:\.[A-Z][A-Z0-9_]*)*`
const leadingClass = new RegExp(String.raw`^\s*\[(${errorClassPattern})\]`)
// The errors a 3.5 message quotes from its causes: "Job aborted due to stage failure: … Lost
// task … (…): org.apache.spark.SparkArithmeticException: [DIVIDE_BY_ZERO] …", or the cause of a
// [TASK_WRITE_FAILED] ("…SparkNumberFormatException: [CAST_INVALID_INPUT] …"). The innermost is
// the root cause, which 4.x sends itself.
const taskClasses = new RegExp(String.raw`[\w$.]+(?:Exception|Error): \[(${errorClassPattern})\]`, "g")
const innermostTaskClass = (message: string): string | undefined =>
  [...message.matchAll(taskClasses)].at(-1)?.[1]

/**
 * The error class a message names: the innermost cause's it quotes (the root cause, as 4.x
 * reports it), else the `[UNRESOLVED_COLUMN.WITH_SUGGESTION] …` it starts with (how Spark renders
 * its errors). Read
 * only when the server's ErrorInfo has no errorClass field — Spark 3.5, whose ErrorInfo
 * carries the exception classes and nothing else.
 */
export const errorClassOfMessage = (message: string | undefined): string | undefined =>
  innermostTaskClass(message ?? "") ?? leadingClass.exec(message ?? "")?.[1]

/** The cause chain of a FetchErrorDetails answer, outermost first. */
export const causesOf = (response: FetchErrorDetailsResponse): ReadonlyArray<CauseLink> => {
  const links: Array<CauseLink> = []
  const seen = new Set<number>()
  let index = response.rootErrorIdx
  while (index !== undefined && !seen.has(index) && index < response.errors.length) {
    seen.add(index)
    const error = response.errors[index]!
    links.push({
      classes: error.errorTypeHierarchy,
      message: error.message,
      errorClass: error.sparkThrowable?.errorClass,
      sqlState: error.sparkThrowable?.sqlState,
      messageParameters: error.sparkThrowable?.messageParameters ?? {}
    })
    index = error.causeIdx
  }
  return links
}

/**
 * The message of an error the server sent neither text nor an error class for: its exception
 * class (a bare NullPointerException has no message), else the bare gRPC code.
 */
export const withoutMessage = (error: Pick<Detail, "classes" | "grpcCode">): string =>
  `${error.classes[0] ?? error.grpcCode} without a message`

/**
 * The same error with its server-side cause chain attached. The message stays (an Error's
 * `message` is not enumerable, so a spread alone would drop it); when the server had sent no
 * text (the message was rendered from the error class, or is {@link withoutMessage}'s stand-in),
 * the first cause's message replaces it.
 */
export const withCauses = <E extends SparkError>(error: E, causes: ReadonlyArray<CauseLink>): E => {
  const rendered =
    isBlank(error.message) ||
    error.message === renderMessage(error.errorClass, error.messageParameters) ||
    error.message === withoutMessage(error)
  const fetched = causes.find((c) => !isBlank(c.message))?.message
  return make(error._tag, {
    ...error,
    message: rendered && fetched !== undefined ? fetched : error.message,
    causes
  }) as E
}

/** Bound on {@link headline}: one readable line for a summary table or a log line. */
export const maxHeadlineLength = 500

/**
 * The first non-blank line of the message, trimmed and bounded (Spark's parse errors start
 * with a newline; its analysis errors go on with the plan). Never empty.
 */
export const headline = (error: SparkError, max: number = maxHeadlineLength): string => {
  const line =
    error.message
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l !== "") ??
    renderMessage(error.errorClass, error.messageParameters) ??
    `${error._tag} (${error.grpcCode})`
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}

/** One line for logs: kind, error class, SQLSTATE and the first line of the message. */
export const summary = (error: SparkError): string =>
  [
    error._tag,
    error.errorClass !== undefined ? `[${error.errorClass}]` : undefined,
    error.sqlState !== undefined ? `SQLSTATE ${error.sqlState}` : undefined,
    headline(error)
  ]
    .filter((s) => s !== undefined)
    .join(" ")
