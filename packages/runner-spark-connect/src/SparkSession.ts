/**
 * A Spark Connect session as an Effect service: one gRPC channel and one server-side session
 * (client-chosen UUID), released when the scope closes. Queries and commands go the way the
 * official clients send them; results come as Arrow tables, JS rows or a stream of record
 * batches; every call carries an operation id and the caller's tags, so a batch runner can
 * interrupt one rule's work on the server.
 *
 * @example
 * import { SparkSession } from "@spark-etl/runner-spark-connect"
 * const program = Effect.gen(function* () {
 *   const spark = yield* SparkSession.SparkSession
 *   const df = yield* spark.sql("SELECT id FROM range(:n)", { params: { n: 10 } })
 *   return yield* spark.collect(df)
 * }).pipe(Effect.provide(SparkSession.layer({ remote: "sc://127.0.0.1:15002" })))
 */
import { create } from "@bufbuild/protobuf"
import type { MessageInitShape } from "@bufbuild/protobuf"
import * as grpc from "@grpc/grpc-js"
import { RecordBatch, Table, tableFromIPC } from "apache-arrow"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { ChildProcessSpawner } from "effect/process"
import { randomUUID } from "node:crypto"
import * as os from "node:os"
import * as path from "node:path"
import * as ConnectionString from "./ConnectionString.js"
import type { ExecutePlanResponse } from "./generated/spark/connect/base_pb.js"
import {
  AnalyzePlanRequestSchema,
  ConfigRequestSchema,
  FetchErrorDetailsRequestSchema,
  InterruptRequest_InterruptType,
  InterruptRequestSchema,
  ReleaseSessionRequestSchema,
  SparkConnectService,
  UserContextSchema
} from "./generated/spark/connect/base_pb.js"
import type { Relation } from "./generated/spark/connect/relations_pb.js"
import * as Execute from "./internal/Execute.js"
import * as Plan from "./internal/Plan.js"
import * as Results from "./internal/Results.js"
import * as Rpc from "./internal/Rpc.js"
import * as LocalServer from "./local/LocalServer.js"
import * as Retry from "./Retry.js"
import * as Rows from "./Rows.js"
import * as SparkError from "./SparkError.js"

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
  /** Adds the server-side cause chain (FetchErrorDetails) to an error that has an errorId. */
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

// Arrow batches exceed grpc-js's 4 MiB default; Spark sends chunks of up to 4 MiB plus framing.
const maxReceiveBytes = 256 * 1024 * 1024
const flowControlWindow = 32 * 1024 * 1024

const credentialsOf = (endpoint: ConnectionString.Endpoint): grpc.ChannelCredentials => {
  if (!endpoint.useSsl) return grpc.credentials.createInsecure()
  const ssl = grpc.credentials.createSsl()
  const token = endpoint.token
  if (token === undefined) return ssl
  return grpc.credentials.combineChannelCredentials(
    ssl,
    grpc.credentials.createFromMetadataGenerator((_, callback) => {
      const md = new grpc.Metadata()
      md.set("authorization", `Bearer ${Redacted.value(token)}`)
      callback(null, md)
    })
  )
}

const endpointOf = (
  options: Options
): Effect.Effect<
  ConnectionString.Endpoint,
  SparkError.ConnectionStringError | SparkError.LocalServerError,
  Scope.Scope | ChildProcessSpawner.ChildProcessSpawner
> =>
  Effect.gen(function* () {
    const remote = yield* Effect.fromResult(ConnectionString.parse(options.remote, options))
    if (remote._tag === "Endpoint") return remote
    const server = yield* LocalServer.start({
      dataDir: path.resolve(".spark-etl", "local"),
      ...options.local,
      master: remote.master
    })
    const started = yield* Effect.fromResult(ConnectionString.parse(server.remote))
    return started as ConnectionString.Endpoint
  })

const decodeArrow = (response: ExecutePlanResponse): ReadonlyArray<RecordBatch> =>
  response.responseType.case === "arrowBatch" ? tableFromIPC(response.responseType.value.data).batches : []

/**
 * Opens a session: parses the connection string (starting a local server for `local[N]`),
 * opens the channel, checks the server answers, and registers ReleaseSession and the channel's
 * close on the scope.
 */
export const make = (
  options: Options
): Effect.Effect<Session, MakeError, Scope.Scope | ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    const endpoint = yield* endpointOf(options)
    const sessionId = endpoint.sessionId ?? randomUUID()
    const userAgent = [endpoint.userAgent, `spark-etl/${clientVersion}`, `node/${process.versions.node}`]
      .filter((s) => s !== undefined)
      .join(" ")
    const client = yield* Effect.acquireRelease(
      Effect.sync(
        () =>
          new grpc.Client(ConnectionString.address(endpoint), credentialsOf(endpoint), {
            "grpc.max_receive_message_length": maxReceiveBytes,
            "grpc.max_send_message_length": maxReceiveBytes,
            // HTTP/2 starts with a 64 KiB window: a 4 MiB Arrow batch would wait on dozens of
            // WINDOW_UPDATE round trips. A large window lets the server stream at full speed.
            "grpc-node.flow_control_window": flowControlWindow,
            "grpc.keepalive_time_ms": Duration.toMillis(options.keepalive ?? "30 seconds"),
            "grpc.keepalive_timeout_ms": Duration.toMillis(options.keepaliveTimeout ?? "10 seconds"),
            "grpc.keepalive_permit_without_calls": 1,
            "grpc.primary_user_agent": userAgent
          })
      ),
      (c) => Effect.sync(() => c.close())
    )
    const metadata = new grpc.Metadata()
    for (const [k, v] of Object.entries(endpoint.metadata)) metadata.set(k, v)
    // Only reachable with allowTokenOverLoopbackPlaintext: grpc-js will not compose call
    // credentials with an insecure channel, so the header goes as plain metadata.
    if (!endpoint.useSsl && endpoint.token !== undefined)
      metadata.set("authorization", `Bearer ${Redacted.value(endpoint.token)}`)
    // Interrupts and releases of operations whose consumer went away (a deadline, an early stop).
    const background = yield* FiberSet.make()
    const ctx: Execute.Context = {
      client,
      sessionId,
      userContext: create(UserContextSchema, {
        userId: endpoint.userId ?? process.env["USER"] ?? os.userInfo().username,
        userName: endpoint.userId ?? ""
      }),
      clientType: userAgent,
      metadata,
      rpcTimeoutMs: Duration.toMillis(options.rpcTimeout ?? "60 seconds"),
      streamTimeoutMs: Duration.toMillis(options.streamTimeout ?? "10 minutes"),
      retry: Retry.schedule(options.retry),
      serverSession: { id: undefined },
      background: (effect) => FiberSet.run(background, Effect.ignore(effect)).pipe(Effect.asVoid)
    }
    const base = { sessionId, userContext: ctx.userContext, clientType: ctx.clientType }
    const observed = () =>
      ctx.serverSession.id !== undefined ? { clientObservedServerSideSessionId: ctx.serverSession.id } : {}
    const checked = <A extends { readonly serverSideSessionId: string }>(
      effect: Effect.Effect<A, SparkError.SparkError>
    ) =>
      Effect.flatMap(effect, (a) => {
        const changed = Execute.checkServerSession(ctx, a.serverSideSessionId)
        return changed ? Effect.fail(changed) : Effect.succeed(a)
      })

    const analyze = (analyzeCase: Pick<MessageInitShape<typeof AnalyzePlanRequestSchema>, "analyze">) =>
      checked(
        Execute.unary(
          ctx,
          SparkConnectService.method.analyzePlan,
          create(AnalyzePlanRequestSchema, { ...base, ...observed(), ...analyzeCase })
        )
      )

    const versionResponse = yield* analyze({ analyze: { case: "sparkVersion", value: {} } })
    const sparkVersion =
      versionResponse.result.case === "sparkVersion" ? versionResponse.result.value.version : ""

    yield* Effect.addFinalizer(() =>
      Rpc.unary(
        client,
        SparkConnectService.method.releaseSession,
        create(ReleaseSessionRequestSchema, { ...base }),
        { metadata, timeoutMs: Math.min(ctx.rpcTimeoutMs, 10_000) }
      ).pipe(Effect.ignore)
    )
    // Runs before the release above: an operation's interrupt still under way when the session
    // closes (its stream just hit a deadline) must reach the server, or the operation runs on
    // there with nobody to stop it — ReleaseSession fails on servers without Spark's ML jar.
    yield* Effect.addFinalizer(() =>
      FiberSet.awaitEmpty(background).pipe(Effect.timeoutOption(Math.min(ctx.rpcTimeoutMs, 10_000)))
    )

    const tagsOf = (o: OperationOptions | undefined): OperationOptions => ({
      ...o,
      tags: [...(options.tags ?? []), ...(o?.tags ?? [])]
    })

    const run = (plan: Parameters<typeof Execute.execute>[1], o?: OperationOptions) =>
      Execute.execute(ctx, plan, tagsOf(o))

    const runCommand = (plan: Parameters<typeof Execute.execute>[1], o?: OperationOptions) =>
      Stream.runDrain(run(plan, o))

    const stream = (df: DataFrame, o?: OperationOptions) =>
      run(Plan.root(df.relation), o).pipe(Stream.flatMap((r) => Stream.fromIterable(decodeArrow(r))))

    // Rows are decoded with the schema Spark sends first (see Results).
    const rowBatches = (df: DataFrame, o?: OperationOptions) =>
      Results.rowBatches(run(Plan.root(df.relation), o))

    const toArrow = (df: DataFrame, o?: OperationOptions) =>
      Stream.runCollect(stream(df, o)).pipe(Effect.map((batches) => new Table(batches)))

    const config = (operation: MessageInitShape<typeof ConfigRequestSchema>["operation"]) =>
      checked(
        Execute.unary(
          ctx,
          SparkConnectService.method.config,
          create(ConfigRequestSchema, { ...base, ...observed(), operation })
        )
      )

    const session: Session = {
      sessionId,
      sparkVersion,
      remote: ConnectionString.describe(endpoint),
      sql: (query, o) =>
        Stream.runCollect(run(Plan.sqlCommand(Plan.sql(query, o?.params)), o)).pipe(
          Effect.flatMap((responses) => {
            for (const r of responses)
              if (r.responseType.case === "sqlCommandResult" && r.responseType.value.relation !== undefined)
                return Effect.succeed({ relation: r.responseType.value.relation })
            return Effect.fail(
              SparkError.make("SparkProtocolError", {
                message: "the server returned no relation for a SQL command"
              })
            )
          })
        ),
      table: (name) => ({ relation: Plan.table(name) }),
      read: (o) => ({ relation: Plan.read(o) }),
      schema: (df) =>
        analyze({ analyze: { case: "schema", value: { plan: Plan.root(df.relation) } } }).pipe(
          Effect.map((response) => {
            const type = response.result.case === "schema" ? response.result.value.schema : undefined
            return type?.kind.case === "struct"
              ? type.kind.value.fields.map((f) => ({
                  name: f.name,
                  type: Plan.typeName(f.dataType),
                  nullable: f.nullable
                }))
              : []
          })
        ),
      count: (df, o) =>
        toArrow({ relation: Plan.count(df.relation) }, o).pipe(
          Effect.flatMap((table) => {
            const value: unknown = table.getChildAt(0)?.get(0)
            return typeof value === "bigint"
              ? Effect.succeed(value)
              : Effect.fail(SparkError.make("SparkProtocolError", { message: "count returned no bigint" }))
          })
        ),
      toArrow,
      collect: (df, o) => Effect.map(Stream.runCollect(rowBatches(df, o)), (batches) => batches.flat()),
      stream,
      streamRows: (df, o) => rowBatches(df, o).pipe(Stream.flatMap((rows) => Stream.fromIterable(rows))),
      write: (df, w, o) => runCommand(Plan.write(df.relation, w), o),
      createTempView: (df, name, o) =>
        runCommand(
          Plan.createView(df.relation, name, { global: o?.global ?? false, replace: o?.replace ?? true }),
          o
        ),
      getConf: (key) =>
        config({ opType: { case: "getOption", value: { keys: [key] } } }).pipe(
          Effect.map((r) => Option.fromNullishOr(r.pairs[0]?.value))
        ),
      setConf: (pairs) =>
        config({
          opType: {
            case: "set",
            value: { pairs: Object.entries(pairs).map(([key, value]) => ({ key, value })) }
          }
        }).pipe(Effect.asVoid),
      unsetConf: (keys) =>
        config({ opType: { case: "unset", value: { keys: [...keys] } } }).pipe(Effect.asVoid),
      interrupt: (target) =>
        checked(
          Execute.unary(
            ctx,
            SparkConnectService.method.interrupt,
            create(InterruptRequestSchema, {
              ...base,
              ...observed(),
              ...(target === "all"
                ? { interruptType: InterruptRequest_InterruptType.ALL }
                : "tag" in target
                  ? {
                      interruptType: InterruptRequest_InterruptType.TAG,
                      interrupt: { case: "operationTag", value: target.tag }
                    }
                  : {
                      interruptType: InterruptRequest_InterruptType.OPERATION_ID,
                      interrupt: { case: "operationId", value: target.operationId }
                    })
            })
          )
        ).pipe(Effect.map((r) => r.interruptedIds)),
      errorDetails: (error) =>
        error.errorId === undefined
          ? Effect.succeed(error)
          : Execute.unary(
              ctx,
              SparkConnectService.method.fetchErrorDetails,
              create(FetchErrorDetailsRequestSchema, { ...base, ...observed(), errorId: error.errorId })
            ).pipe(
              Effect.map((r) => SparkError.withCauses(error, SparkError.causesOf(r))),
              Effect.orElseSucceed(() => error)
            )
    }
    return session
  })

/** The session as a layer; the session is released when the layer's scope closes. */
export const layer = (
  options: Options
): Layer.Layer<SparkSession, MakeError, ChildProcessSpawner.ChildProcessSpawner> =>
  Layer.effect(SparkSession)(make(options))

/** Parses a connection string without connecting (e.g. to validate flags early). */
export const validateRemote = (
  remote: string
): Result.Result<ConnectionString.Remote, SparkError.ConnectionStringError> => ConnectionString.parse(remote)
