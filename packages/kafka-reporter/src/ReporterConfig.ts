/**
 * The reporter's configuration: where Kafka is, how to authenticate, how long each call may
 * take, and where the outbox lives. Decoded from untrusted input (the CLI's config file or
 * environment) with a Schema; secrets are `Redacted` from the moment they are decoded.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import { ConfigError, type ConfigIssue } from "./ReporterError.js"

const NonEmpty = Schema.String.check(Schema.isMinLength(1))
const Millis = Schema.Int.check(Schema.isGreaterThan(0))

/** A bootstrap server as `host:port`. */
export const Broker = Schema.String.check(
  Schema.isPattern(/^[^\s:/]+:\d{1,5}$/, { expected: "a broker as host:port, e.g. kafka-1:9092" })
)

/** A Kafka topic name. */
export const Topic = Schema.String.check(
  Schema.isPattern(/^[A-Za-z0-9._-]{1,249}$/, {
    expected: "a Kafka topic name ([A-Za-z0-9._-], 1-249 chars)"
  })
)

/** TLS towards the brokers; its presence switches TLS on. Files are PEM. */
export const Tls = Schema.Struct({
  /** CA bundle that signs the brokers' certificates (default: the system's CAs). */
  caFile: Schema.optionalKey(NonEmpty),
  /** Client certificate and key, for brokers that require mutual TLS. */
  certFile: Schema.optionalKey(NonEmpty),
  keyFile: Schema.optionalKey(NonEmpty),
  /** Server name for SNI and certificate checks, when it differs from the broker host. */
  servername: Schema.optionalKey(NonEmpty),
  /** Reject brokers whose certificate does not verify; switch off only in a lab. */
  rejectUnauthorized: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true)))
})
export type Tls = typeof Tls.Type

/** SASL authentication; the password is decoded straight into a `Redacted`. */
export const Sasl = Schema.Struct({
  mechanism: Schema.Literals(["plain", "scram-sha-256", "scram-sha-512"]),
  username: NonEmpty,
  password: Schema.RedactedFromValue(NonEmpty)
})
export type Sasl = typeof Sasl.Type

/** The reporter's configuration, with defaults applied on decoding. */
export const ReporterConfig = Schema.Struct({
  brokers: Schema.NonEmptyArray(Broker),
  /**
   * The topic of events that name none (one topic for every event type); an event that names
   * its own (a batch's `escalation.topic`) goes there. Create topics with the documented
   * command (no auto-creation).
   */
  topic: Topic,
  clientId: NonEmpty.pipe(Schema.withDecodingDefaultKey(Effect.succeed("spark-etl"))),
  /** Append-only file of events Kafka did not acknowledge in time; delivered first next time. */
  outboxFile: NonEmpty,
  /** Deadline for one event: connect, send and acknowledgement by all in-sync replicas. */
  publishTimeoutMs: Millis.pipe(Schema.withDecodingDefaultKey(Effect.succeed(5000))),
  /** Deadline for draining the outbox (at start, on flush, by the flush command). */
  flushTimeoutMs: Millis.pipe(Schema.withDecodingDefaultKey(Effect.succeed(30000))),
  /** After a failed call, events go straight to the outbox for this long instead of waiting again. */
  retryAfterMs: Millis.pipe(Schema.withDecodingDefaultKey(Effect.succeed(15000))),
  /** kafkajs: TCP connect timeout per broker. */
  connectionTimeoutMs: Millis.pipe(Schema.withDecodingDefaultKey(Effect.succeed(1000))),
  /** kafkajs: timeout of one request, e.g. a produce waiting for acks. */
  requestTimeoutMs: Millis.pipe(Schema.withDecodingDefaultKey(Effect.succeed(3000))),
  /** kafkajs: retries of one call inside our deadline (its idempotent default is practically infinite). */
  retries: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 20 })).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(2))
  ),
  /** Upper bound, in UTF-8 bytes, of a failure's message and of its engine detail. */
  maxDetailBytes: Schema.Int.check(Schema.isBetween({ minimum: 256, maximum: 262144 })).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(8192))
  ),
  tls: Schema.optionalKey(Tls),
  sasl: Schema.optionalKey(Sasl)
})
export type ReporterConfig = typeof ReporterConfig.Type
/** The configuration as written in a file (defaults not yet applied, secrets in clear). */
export type ReporterConfigInput = typeof ReporterConfig.Encoded

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

const pathOf = (path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined): string =>
  (path ?? []).map((p) => String(typeof p === "object" ? p.key : p)).join(".")

/**
 * Where the input came from: one place (a file), or a place per field, for a configuration
 * assembled from flags and variables (`path` is the field's dotted path, e.g. `brokers.0`).
 */
export type Source = string | ((path: string) => string)

/**
 * Decodes untrusted input into a configuration; the error names the source and every bad field.
 *
 * @example
 * const config = yield* ReporterConfig.decode(yamlValue, "/etc/spark-etl/reporter.yaml")
 */
export const decode = (input: unknown, source: Source): Effect.Effect<ReporterConfig, ConfigError> =>
  Schema.decodeUnknownEffect(ReporterConfig)(input, { errors: "all", onExcessProperty: "error" }).pipe(
    Effect.mapError((error) => {
      const issues: ReadonlyArray<ConfigIssue> = formatIssues(error.issue).issues.map((i) => ({
        path: pathOf(i.path),
        message: i.message
      }))
      const field = (i: ConfigIssue) => (i.path === "" ? "(root)" : i.path)
      if (typeof source === "string")
        return new ConfigError({
          source,
          issues,
          message: `invalid Kafka reporter configuration in ${source}: ${issues
            .map((i) => `${field(i)}: ${i.message}`)
            .join("; ")}`
        })
      return new ConfigError({
        source: [...new Set(issues.map((i) => source(i.path)))].join(", "),
        issues,
        message: `invalid Kafka reporter configuration: ${issues
          .map((i) => `${field(i)} (${source(i.path)}): ${i.message}`)
          .join("; ")}`
      })
    })
  )
