/**
 * A Spark Connect session as an Effect service: one HTTP/2 connection and one server-side session
 * (client-chosen UUID), released when the scope closes. Queries and commands go the way the
 * official clients send them; results come as Arrow tables, JS rows or a stream of record
 * batches; every call carries an operation id and the caller's tags, so a batch runner can
 * interrupt one rule's work on the server.
 *
 * @example
 * import * as SparkSession from "@spark-etl/runner-spark-connect/SparkSession"
 * const program = Effect.gen(function* () {
 *   const spark = yield* SparkSession.SparkSession
 *   const df = yield* spark.sql("SELECT id FROM range(:n)", { params: { n: 10 } })
 *   return yield* spark.collect(df)
 * }).pipe(Effect.provide(SparkSession.layer({ remote: "sc://127.0.0.1:15002" })))
 */

import type { RecordBatch, Table } from "apache-arrow"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as ConnectionString from "./ConnectionString.js"
import type { Relation } from "./generated/spark/connect/relations_pb.js"
import type * as Execute from "./internal/Execute.js"
import type * as Plan from "./internal/Plan.js"
import type * as LocalServer from "./local/LocalServer.js"
import type * as Retry from "./Retry.js"
import type * as Rows from "./Rows.js"
import type * as SparkError from "./SparkError.js"

/** This client's version, sent in the user agent (kept equal to package.json's). */
export const clientVersion = "0.1.0"

/** A query plan not yet run: a relation on the server's side. */
export interface DataFrame {
  readonly relation: Relation
}

/** One column of a result schema. */
export interface Column {
  readonly name: string
  /** Spark's type string: `bigint`, `decimal(18,2)`, `array<string>`… */
  readonly type: string
  readonly nullable: boolean
}

/** Per-call options: operation tags and an optional operation id (a UUID). */
export type OperationOptions = Execute.OperationOptions

/** Options of {@link Session.sql}. */
export interface SqlOptions extends OperationOptions {
  /** Named (`:name`) or positional (`?`) parameters, bound by Spark. */
  readonly params?: Plan.Params
}

/**
 * What {@link Session.awaitEnd} saw of an operation:
 * - `ended`: the server ended it (completed, failed, cancelled, or no longer has it);
 * - `answered`: the server no longer holds its first response, which its own client read and
 *   released, so it cannot be followed from here. This client releases result batches only
 *   (progress and metrics stay held until the end), so the operation is a query that returned
 *   rows, and a query writes nothing;
 * - `unknown`: no end within `interruptWait`, or no way to follow it (no connection): it may
 *   still be running.
 */
export type OperationEnd = "ended" | "answered" | "unknown"

/** Which operations {@link Session.interrupt} stops. */
export type InterruptTarget = "all" | { readonly tag: string } | { readonly operationId: string }

export type { ParamValue, Params, ReadOptions, SaveMode, WriteOptions } from "./internal/Plan.js"

/** The session's operations. */
export interface Session {
  /** The client-chosen session id (a UUID): a later run can attach to it and fence it. */
  readonly sessionId: string
  /** The server's Spark version. */
  readonly sparkVersion: string
  /** The connection string without secrets. */
  readonly remote: string
  /** Runs SQL as the official clients do (SqlCommand): commands run now, queries on collect. */
  readonly sql: (query: string, options?: SqlOptions) => Effect.Effect<DataFrame, SparkError.SparkError>
  /**
   * A query as a plan, built here and not sent: Spark parses and analyses it where it is used
   * (a view, a count, a collect), with `params` bound by Spark. It is the relation `sql` gets
   * back for a query, without `sql`'s round trip; for a statement that may be a command, use
   * `sql`, which runs a command at once.
   */
  readonly query: (query: string, params?: Plan.Params) => DataFrame
  /** A catalog table or view. */
  readonly table: (name: string) => DataFrame
  /** Files through a data source (parquet, csv, json, orc, text…). */
  readonly read: (options: Plan.ReadOptions) => DataFrame
  /** The result schema, from AnalyzePlan (nothing is executed). */
  readonly schema: (df: DataFrame) => Effect.Effect<ReadonlyArray<Column>, SparkError.SparkError>
  /** The number of rows. */
  readonly count: (df: DataFrame, options?: OperationOptions) => Effect.Effect<bigint, SparkError.SparkError>
  /** The whole result as an Arrow table. */
  readonly toArrow: (df: DataFrame, options?: OperationOptions) => Effect.Effect<Table, SparkError.SparkError>
  /** The whole result as JS rows (see Rows for the type mapping). */
  readonly collect: (
    df: DataFrame,
    options?: OperationOptions
  ) => Effect.Effect<ReadonlyArray<Rows.Row>, SparkError.SparkError>
  /** The result batch by batch; only the batch in hand is held in memory. */
  readonly stream: (
    df: DataFrame,
    options?: OperationOptions
  ) => Stream.Stream<RecordBatch, SparkError.SparkError>
  /** The result row by row, decoded batch by batch. */
  readonly streamRows: (
    df: DataFrame,
    options?: OperationOptions
  ) => Stream.Stream<Rows.Row, SparkError.SparkError>
  /** Writes a result (DataFrameWriter semantics). */
  readonly write: (
    df: DataFrame,
    options: Plan.WriteOptions,
    operation?: OperationOptions
  ) => Effect.Effect<void, SparkError.SparkError>
  /** Registers a temporary view (session-scoped, or global with `global: true`). */
  readonly createTempView: (
    df: DataFrame,
    name: string,
    options?: { readonly replace?: boolean; readonly global?: boolean } & OperationOptions
  ) => Effect.Effect<void, SparkError.SparkError>
  /** Reads runtime configuration values (None when unset). */
  readonly getConf: (key: string) => Effect.Effect<Option.Option<string>, SparkError.SparkError>
  /** Sets runtime configuration values. */
  readonly setConf: (pairs: Readonly<Record<string, string>>) => Effect.Effect<void, SparkError.SparkError>
  /** Unsets runtime configuration values. */
  readonly unsetConf: (keys: ReadonlyArray<string>) => Effect.Effect<void, SparkError.SparkError>
  /** Interrupts running operations on the server; returns the ids it interrupted. */
  readonly interrupt: (target: InterruptTarget) => Effect.Effect<ReadonlyArray<string>, SparkError.SparkError>
  /**
   * Follows an operation of this session (one that `interrupt` returned, say) from its start, at
   * most `interruptWait`, and says what the server showed of it (see {@link OperationEnd}). An
   * interrupted operation may still run, and write, until its end: Spark stops it only where
   * its work checks. A client still reading the operation loses its stream to this one for a
   * moment and takes it back.
   */
  readonly awaitEnd: (operationId: string) => Effect.Effect<OperationEnd>
  /**
   * The commands this session interrupted (their consumer stopped, their stream failed) without
   * the server showing their end within `interruptWait`: they may still run, and write, there.
   * They are not released on the server, so that a fence can follow them (`awaitEnd`, which
   * settles one it sees end), and while any is left the scope's close keeps the session instead
   * of releasing it. (A query writes nothing: it is released as usual.)
   */
  readonly unsettled: Effect.Effect<ReadonlyArray<string>>
  /**
   * Releases the session on the server now (ReleaseSession): it ends there, and any later call
   * fails with SparkSessionLost. Fails when the server refused or could not be reached, and with
   * SparkUnsupported on a 3.5 server (which has no such call; its sessions end by idle
   * timeout). Once released, later calls succeed at once; the scope's close releases otherwise.
   */
  readonly release: Effect.Effect<void, SparkError.SparkError>
  /**
   * Adds the server-side cause chain (FetchErrorDetails) to an error that has an errorId; the
   * error as is on a 3.5 server, which keeps no chain.
   */
  readonly errorDetails: <E extends SparkError.SparkError>(error: E) => Effect.Effect<E>
}

/** The SparkSession service. */
export class SparkSession extends Context.Service<SparkSession, Session>()(
  "@spark-etl/runner-spark-connect/SparkSession"
) {}

/** How to connect and how patient to be. */
export interface Options {
  /** `sc://host:port/;param=value…`, or `local` / `local[N]` for an embedded server. */
  readonly remote: string
  /** Allow a token over plaintext to a loopback host (tests, local proxies); default false. */
  readonly allowTokenOverLoopbackPlaintext?: boolean
  /** Deadline of each unary RPC; default 60 s. */
  readonly rpcTimeout?: Duration.Input
  /** Deadline of each result stream (the server ends one every 2 min and we reattach); default 10 min. */
  readonly streamTimeout?: Duration.Input
  /**
   * How long a query that stopped before its end (its consumer stopped it, or its stream failed
   * past its deadline with the server in reach) waits, once it has interrupted its operation,
   * for the server to end it, before it goes on with a warning that the operation may still
   * run; and how long {@link Session.awaitEnd} follows an operation. Default 10 s.
   */
  readonly interruptWait?: Duration.Input
  /**
   * Whether the scope's close releases the session on the server (ReleaseSession); default
   * true. A fence that could not see the end of operations it interrupted keeps the session:
   * Spark interrupts a released session's operations without waiting for them, and the next
   * fence could no longer follow them there.
   */
  readonly releaseOnClose?: boolean
  /** Retries of retryable failures (UNAVAILABLE, broken streams); default budget 30 s. */
  readonly retry?: Retry.Policy
  /** Tags added to every operation of this session. */
  readonly tags?: ReadonlyArray<string>
  /** For `local[N]`: the embedded server's options; default data dir `.spark-etl/local`. */
  readonly local?: Omit<LocalServer.Options, "master">
  /** Channel keepalive ping interval; default 30 s. */
  readonly keepalive?: Duration.Input
  /**
   * How long a keepalive ping may go unanswered before the connection counts as dead and its
   * calls fail as retryable (a network black hole drops packets and never resets); default 10 s.
   */
  readonly keepaliveTimeout?: Duration.Input
}

/** Why a session could not be made. */
export type MakeError = SparkError.ConnectionStringError | SparkError.LocalServerError | SparkError.SparkError

// The implementation (gRPC, Arrow, the protocol stubs) is read from disk when a session is
// made, not when the service is named: validating a batch never loads it.
const implementation = Effect.promise(() => import("./internal/Session.js"))

/**
 * A remote server's connection string. A session on one starts no process, so it needs no
 * ChildProcessSpawner: a program that only connects does without `@effect/platform-node`'s
 * services (about 10 MiB of its peak RSS).
 */
export type RemoteUrl = `sc://${string}`

/** Whether a connection string names a remote server, not an embedded one (see {@link RemoteUrl}). */
export const isRemoteUrl = (remote: string): remote is RemoteUrl => remote.startsWith("sc://")

/**
 * Opens a session: parses the connection string (starting a local server for `local[N]`),
 * opens the connection, checks the server answers, and registers ReleaseSession and the connection's
 * close on the scope.
 */
export function make(
  options: Options & { readonly remote: RemoteUrl }
): Effect.Effect<Session, MakeError, Scope.Scope>
export function make(
  options: Options
): Effect.Effect<Session, MakeError, Scope.Scope | ChildProcessSpawner.ChildProcessSpawner>
export function make(
  options: Options
): Effect.Effect<Session, MakeError, Scope.Scope | ChildProcessSpawner.ChildProcessSpawner> {
  return Effect.flatMap(implementation, (session) => session.make(options))
}

/** The session as a layer; the session is released when the layer's scope closes. */
export function layer(options: Options & { readonly remote: RemoteUrl }): Layer.Layer<SparkSession, MakeError>
export function layer(
  options: Options
): Layer.Layer<SparkSession, MakeError, ChildProcessSpawner.ChildProcessSpawner>
export function layer(
  options: Options
): Layer.Layer<SparkSession, MakeError, ChildProcessSpawner.ChildProcessSpawner> {
  return Layer.effect(SparkSession)(make(options))
}

/**
 * Interrupts every operation carrying `tag` and logs, prefixed with `label` (`rule x`), what
 * the server stopped: the line an operator reads after an interrupt or before a retry. Never
 * fails: a server that does not confirm within `timeout` (default 10 s) or refuses is logged
 * as a warning, and nothing counts as stopped.
 */
export const stopTagged = (
  spark: Session,
  tag: string,
  label: string,
  timeout: Duration.Input = "10 seconds"
): Effect.Effect<ReadonlyArray<string>> =>
  spark.interrupt({ tag }).pipe(
    Effect.timeoutOption(timeout),
    Effect.flatMap((ids) =>
      ids._tag === "None"
        ? Effect.as(Effect.logWarning(`${label}: the server did not confirm the interrupt in time`), [])
        : Effect.as(
            Effect.logInfo(
              // Nothing is usual before a retry: the failed attempt's operation had already ended.
              ids.value.length === 0
                ? `${label}: no operation of it was running on the server`
                : `${label}: ${ids.value.length} operation(s) stopped on the server: ${ids.value.join(", ")}`
            ).pipe(Effect.annotateLogs({ operationIds: ids.value.join(","), sparkTag: tag })),
            ids.value
          )
    ),
    Effect.catch((e) =>
      Effect.as(Effect.logWarning(`${label}: interrupt on the server failed: ${e.message}`), [])
    )
  )

/** Parses a connection string without connecting (e.g. to validate flags early). */
export const validateRemote = (
  remote: string
): Result.Result<ConnectionString.Remote, SparkError.ConnectionStringError> => ConnectionString.parse(remote)
