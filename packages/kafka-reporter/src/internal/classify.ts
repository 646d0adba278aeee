/**
 * The single place where kafkajs' own errors are mapped onto our stable codes: by error class
 * name and Kafka protocol error type, never by message text.
 */
import { type Operation, ProducerError, type ProducerErrorCode, retryable } from "../ReporterError.js"

// kafkajs protocol error types (Kafka's own error names) that mean "an operator must act".
const protocolCodes: Readonly<Record<string, ProducerErrorCode>> = {
  UNKNOWN_TOPIC_OR_PARTITION: "TOPIC_MISSING",
  TOPIC_AUTHORIZATION_FAILED: "AUTHORIZATION_FAILED",
  CLUSTER_AUTHORIZATION_FAILED: "AUTHORIZATION_FAILED",
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: "AUTHORIZATION_FAILED",
  SASL_AUTHENTICATION_FAILED: "AUTHENTICATION_FAILED",
  ILLEGAL_SASL_STATE: "AUTHENTICATION_FAILED",
  UNSUPPORTED_SASL_MECHANISM: "AUTHENTICATION_FAILED",
  MESSAGE_TOO_LARGE: "MESSAGE_REJECTED",
  RECORD_LIST_TOO_LARGE: "MESSAGE_REJECTED",
  INVALID_RECORD: "MESSAGE_REJECTED",
  CORRUPT_MESSAGE: "MESSAGE_REJECTED"
}

interface Described {
  readonly name?: unknown
  readonly type?: unknown
  readonly message?: unknown
  readonly cause?: unknown
  readonly originalError?: unknown
  readonly errors?: unknown
}

const asDescribed = (u: unknown): Described | undefined =>
  typeof u === "object" && u !== null ? (u as Described) : undefined

// kafkajs wraps the real reason: NumberOfRetriesExceeded.cause, RequestQueue's originalError,
// and an admin request's per-topic errors in KafkaJSAggregateError.errors.
const chain = (cause: unknown): ReadonlyArray<Described> => {
  const out: Array<Described> = []
  const pending: Array<unknown> = [cause]
  while (pending.length > 0 && out.length < 8) {
    const current = asDescribed(pending.shift())
    if (current === undefined) continue
    out.push(current)
    pending.push(
      current.cause ?? current.originalError,
      ...(Array.isArray(current.errors) ? current.errors : [])
    )
  }
  return out
}

const codeOf = (e: Described): ProducerErrorCode | undefined => {
  if (typeof e.type === "string" && protocolCodes[e.type] !== undefined) return protocolCodes[e.type]
  switch (e.name) {
    case "KafkaJSSASLAuthenticationError":
      return "AUTHENTICATION_FAILED"
    case "KafkaJSConnectionError":
    case "KafkaJSConnectionClosedError":
    case "KafkaJSBrokerNotFound":
    case "KafkaJSRequestTimeoutError":
      return "BROKER_UNREACHABLE"
    case "KafkaJSTopicMetadataNotLoaded":
      return "TOPIC_MISSING"
    default:
      return undefined
  }
}

/**
 * Maps whatever a kafkajs call rejected with to a `ProducerError`, by error class name and
 * Kafka protocol error type (never by message text). The most specific reason in the cause
 * chain wins: an operator-actionable code over a connection code.
 *
 * @example
 * classify("send", kafkaJsError).code // "TOPIC_MISSING"
 */
export const classify = (operation: Operation, cause: unknown): ProducerError => {
  const links = chain(cause)
  const codes = links.map(codeOf).filter((c): c is ProducerErrorCode => c !== undefined)
  const code = codes.find((c) => !retryable[c]) ?? codes[0] ?? "UNKNOWN"
  // One line: a log line or a summary holds it (OpenSSL's alert text ends with a newline).
  const message = links
    .map((l) => (typeof l.message === "string" ? l.message.replace(/\s*\n\s*/g, " ").trim() : ""))
    .filter((m, i, all) => m !== "" && all.indexOf(m) === i)
    .join(": ")
  return new ProducerError({ code, operation, message: message === "" ? String(cause) : message })
}
