/**
 * The one place where a raw gRPC failure becomes a {@link SparkError.SparkError}: it decodes the
 * server's google.rpc.ErrorInfo from the `grpc-status-details-bin` trailer (exception classes,
 * errorClass, sqlState) and picks the kind from it. Message text is read in one case only: a
 * Spark 3.5 server sends no error class, so it is taken from the `[CLASS]` its messages start
 * with (SparkError.errorClassOfMessage), and its SQLSTATE from Spark 3.5's error catalog
 * (generated into src/generated at build time).
 *
 * Why apart from SparkError: decoding needs protobuf-es, and every process that names a Spark
 * error (the CLI's `validate`, a runner's classification) would load it for nothing.
 */
import { fromBinary } from "@bufbuild/protobuf"
import { anyUnpack } from "@bufbuild/protobuf/wkt"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import { ErrorInfoSchema } from "../generated/google/rpc/error_details_pb.js"
import { StatusSchema } from "../generated/google/rpc/status_pb.js"
import { sqlStateByErrorClass } from "../generated/spark35SqlStates.js"
import * as SparkError from "../SparkError.js"
import type { ErrorInfo } from "../SparkError.js"
import type * as Rpc from "./Rpc.js"

// Plain JSON checks rather than Schema: Schema's module graph is about 8 MiB of every
// process's memory, for two shapes this small.
const parseJson = Option.liftThrowable((text: string): unknown => JSON.parse(text))
const decodeList = (text: string | undefined): Option.Option<ReadonlyArray<string>> =>
  Option.filter(
    text === undefined ? Option.none() : parseJson(text),
    (u): u is ReadonlyArray<string> => Array.isArray(u) && u.every(Predicate.isString)
  )
const decodeMap = (text: string | undefined): Option.Option<Readonly<Record<string, string>>> =>
  Option.filter(
    text === undefined ? Option.none() : parseJson(text),
    (u): u is Readonly<Record<string, string>> =>
      Predicate.isObject(u) && Object.values(u).every(Predicate.isString)
  )

/** A decoded `grpc-status-details-bin` trailer: the status text and its ErrorInfo, if any. */
interface DecodedStatus {
  readonly message: string
  readonly info: ErrorInfo | undefined
}

const decodeStatus = (statusDetails: Uint8Array): DecodedStatus | undefined => {
  const status = Option.liftThrowable(() => fromBinary(StatusSchema, statusDetails))()
  if (Option.isNone(status)) return undefined
  for (const any of status.value.details) {
    const info = anyUnpack(any, ErrorInfoSchema)
    if (info === undefined) continue
    const md = info.metadata
    return {
      message: status.value.message,
      info: {
        reason: info.reason,
        classes: Option.getOrElse(decodeList(md["classes"]), () => (info.reason ? [info.reason] : [])),
        errorClass: md["errorClass"],
        sqlState: md["sqlState"],
        messageParameters: Option.getOrElse(decodeMap(md["messageParameters"]), () => ({})),
        errorId: md["errorId"]
      }
    }
  }
  return { message: status.value.message, info: undefined }
}

const has = (classes: ReadonlyArray<string>, simpleName: string) =>
  classes.some((c) => c === simpleName || c.endsWith(`.${simpleName}`))

// gRPC's canonical status codes by number (fixed by the protocol), spelled out.
const grpcStatusNames = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED"
] as const

/** Picks the kind of a server-reported failure from its error class, classes and SQLSTATE. */
const kindOf = (grpcCode: number, info: ErrorInfo | undefined): SparkError.Tag => {
  const errorClass = info?.errorClass ?? ""
  const classes = info?.classes ?? []
  if (errorClass.startsWith("INVALID_HANDLE.SESSION")) return "SparkSessionLost"
  // Another attach took the stream over: attaching again continues it. A position the server no
  // longer holds (POSITION_NOT_AVAILABLE, POSITION_NOT_FOUND: released, or dropped with an
  // interrupted operation) is gone for every later attach too; the official clients do not
  // retry it either. (Seen on 3.5.7: a fenced scan's own reattaches met it for 30 s.)
  if (errorClass === "INVALID_CURSOR.DISCONNECTED") return "SparkStreamBroken"
  if (errorClass.startsWith("INVALID_CURSOR.")) return "SparkOperationLost"
  if (errorClass.startsWith("INVALID_HANDLE.OPERATION")) return "SparkOperationLost"
  if (errorClass === "OPERATION_CANCELED" || has(classes, "SparkInterruptedException"))
    return "SparkInterrupted"
  if (has(classes, "ParseException") || errorClass.startsWith("PARSE_")) return "SparkParseError"
  if (has(classes, "AnalysisException")) return "SparkAnalysisError"
  if (
    info?.sqlState?.startsWith("22") === true ||
    has(classes, "ArithmeticException") ||
    has(classes, "NumberFormatException") ||
    has(classes, "DateTimeException")
  )
    return "SparkDataError"
  if (info !== undefined) return "SparkExecutionError"
  switch (grpcStatusNames[grpcCode]) {
    case "UNAVAILABLE":
      return "SparkUnavailable"
    case "DEADLINE_EXCEEDED":
      return "SparkDeadlineExceeded"
    case "UNAUTHENTICATED":
    case "PERMISSION_DENIED":
      return "SparkUnauthenticated"
    case "CANCELLED":
      return "SparkInterrupted"
    // A stream reset or torn down mid-flight (RST_STREAM, GOAWAY) comes back as INTERNAL
    // without ErrorInfo: the official clients reattach in that case, and so do we.
    case "INTERNAL":
      return "SparkStreamBroken"
    default:
      return "SparkExecutionError"
  }
}

/** Maps a raw gRPC failure to its tagged error: the single conversion point. */
export const classify = (failure: Rpc.RpcFailure, operationId?: string): SparkError.SparkError => {
  const status = failure.statusDetails === undefined ? undefined : decodeStatus(failure.statusDetails)
  const info =
    status?.info !== undefined && status.info.errorClass === undefined
      ? withClassOfMessage(status.info, failure.details || status.message)
      : status?.info
  const grpcCode = grpcStatusNames[failure.code] ?? String(failure.code)
  // Never empty: the status text (the grpc-message header, else the one inside the details
  // trailer), else the error class and its parameters, else the server's exception class (a
  // bare NullPointerException has no message), else the bare gRPC code. Trimmed: some server
  // texts are Scala multi-line strings that begin with a line break and an indent, which would
  // leave "…: " at the end of the operator's line.
  const message =
    [failure.details, status?.message].find((m): m is string => m !== undefined && m.trim() !== "")?.trim() ??
    SparkError.renderMessage(info?.errorClass, info?.messageParameters ?? {}) ??
    SparkError.withoutMessage({ classes: info?.classes ?? [], grpcCode })
  return SparkError.make(kindOf(failure.code, info), {
    message,
    grpcCode,
    errorClass: info?.errorClass,
    sqlState: info?.sqlState,
    messageParameters: info?.messageParameters ?? {},
    errorId: info?.errorId,
    classes: info?.classes ?? [],
    operationId
  })
}

// The SQLSTATE follows from the class, by Spark 3.5's own error catalog (a subclass has its
// top-level class's state).
const withClassOfMessage = (info: ErrorInfo, message: string): ErrorInfo => {
  const errorClass = SparkError.errorClassOfMessage(message)
  if (errorClass === undefined) return info
  const sqlState = info.sqlState ?? sqlStateByErrorClass[errorClass.replace(/\..*/, "")]
  return { ...info, errorClass, sqlState }
}
