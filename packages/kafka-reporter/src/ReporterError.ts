/**
 * The errors of the Kafka reporter: one flat set of tagged errors, a failed Kafka call keyed by a
 * stable code onto which the client's own errors are mapped (internally, by `classify`).
 */
import * as Data from "effect/Data"

/** Stable codes of a failed Kafka call, as they appear in logs. */
export type ProducerErrorCode =
  | "DEADLINE_EXCEEDED"
  | "BROKER_UNREACHABLE"
  | "AUTHENTICATION_FAILED"
  | "AUTHORIZATION_FAILED"
  | "TOPIC_MISSING"
  | "MESSAGE_REJECTED"
  | "UNKNOWN"

/**
 * Whether a later attempt (the next publish, the next run, the flush command) may succeed
 * without an operator changing something. Auth and authorisation failures need a config or
 * ACL change; a missing topic needs the documented creation command; an oversized or invalid
 * message never goes through as it is.
 */
export const retryable: Readonly<Record<ProducerErrorCode, boolean>> = {
  DEADLINE_EXCEEDED: true,
  BROKER_UNREACHABLE: true,
  AUTHENTICATION_FAILED: false,
  AUTHORIZATION_FAILED: false,
  TOPIC_MISSING: false,
  MESSAGE_REJECTED: false,
  UNKNOWN: true
}

/** The Kafka call that failed. */
export type Operation = "connect" | "send" | "disconnect" | "createTopic" | "describeTopic"

/** A Kafka call that did not succeed within its deadline. */
export class ProducerError extends Data.TaggedError("ProducerError")<{
  readonly code: ProducerErrorCode
  readonly operation: Operation
  readonly message: string
}> {
  /** Whether a later attempt may succeed without an operator's change. */
  get retryable(): boolean {
    return retryable[this.code]
  }
}

/** The outbox file could not be read, written, locked or synced. */
export class OutboxError extends Data.TaggedError("OutboxError")<{
  readonly path: string
  readonly operation: "append" | "read" | "rewrite" | "quarantine" | "lock"
  readonly message: string
}> {}

/** One invalid field of the reporter's configuration. */
export interface ConfigIssue {
  /** Dotted path of the field, e.g. `sasl.password`. */
  readonly path: string
  readonly message: string
}

/** The reporter's configuration was rejected; `source` names where it came from (a file). */
export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly source: string
  readonly issues: ReadonlyArray<ConfigIssue>
  readonly message: string
}> {}

/** An event could not be put in (or read out of) its CloudEvents envelope. */
export class EnvelopeError extends Data.TaggedError("EnvelopeError")<{
  readonly message: string
}> {}
