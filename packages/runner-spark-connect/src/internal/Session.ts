/**
 * The implementation of SparkSession: the gRPC channel, Arrow decoding and the generated
 * protocol stubs. Imported by SparkSession.make when a session is made, so code that only names
 * the service (a runner validating a batch) never loads any of it.
 */
import { create } from "@bufbuild/protobuf"
import type { MessageInitShape } from "@bufbuild/protobuf"
import { RecordBatch, Table, tableFromIPC } from "apache-arrow"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import { randomUUID } from "node:crypto"
import * as os from "node:os"
import * as path from "node:path"
import * as ConnectionString from "../ConnectionString.js"
import type { ExecutePlanResponse } from "../generated/spark/connect/base_pb.js"
import {
  AnalyzePlanRequestSchema,
  ConfigRequestSchema,
  FetchErrorDetailsRequestSchema,
  InterruptRequest_InterruptType,
  InterruptRequestSchema,
  ReleaseSessionRequestSchema,
  SparkConnectService,
  UserContextSchema
} from "../generated/spark/connect/base_pb.js"
import * as Dialect from "./Dialect.js"
import * as Execute from "./Execute.js"
import * as Plan from "./Plan.js"
import * as Results from "./Results.js"
import * as Rpc from "./Rpc.js"
import * as LocalServer from "../local/LocalServer.js"
import * as Retry from "../Retry.js"
import * as SparkError from "../SparkError.js"
import * as Classify from "./Classify.js"
import * as Connection from "./Connection.js"
import {
  clientVersion,
  type DataFrame,
  type MakeError,
  type OperationOptions,
  type Options,
  type Session
} from "../SparkSession.js"

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
 * opens the connection, checks the server answers, and registers ReleaseSession and the connection's
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
      Effect.sync(() =>
        Connection.make({
          address: ConnectionString.address(endpoint),
          useSsl: endpoint.useSsl,
          keepaliveMs: Duration.toMillis(options.keepalive ?? "30 seconds"),
          keepaliveTimeoutMs: Duration.toMillis(options.keepaliveTimeout ?? "10 seconds")
        })
      ),
      (c) => Effect.sync(() => c.close())
    )
    const metadata: Record<string, string> = { "user-agent": userAgent }
    for (const [k, v] of Object.entries(endpoint.metadata)) metadata[k.toLowerCase()] = v
    // Plaintext only with allowTokenOverLoopbackPlaintext (ConnectionString refuses it otherwise).
    if (endpoint.token !== undefined) metadata["authorization"] = `Bearer ${Redacted.value(endpoint.token)}`
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
      interruptWaitMs: Duration.toMillis(options.interruptWait ?? "10 seconds"),
      retry: Retry.schedule(options.retry),
      serverSession: { id: undefined },
      background: (effect) => FiberSet.run(background, Effect.ignore(effect)).pipe(Effect.asVoid),
      unsettled: new Set()
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
    const dialect = Dialect.of(sparkVersion)

    // Released by `release` (which may be tried again after a failure), else when the scope
    // closes, where the outcome is not wanted.
    let released = false
    const release: Effect.Effect<void, SparkError.SparkError> = Effect.suspend(() =>
      released
        ? Effect.void
        : dialect.releaseSession
          ? Rpc.unary(
              client,
              SparkConnectService.method.releaseSession,
              create(ReleaseSessionRequestSchema, { ...base }),
              { metadata, timeoutMs: Math.min(ctx.rpcTimeoutMs, 10_000) }
            ).pipe(
              Effect.mapError((f) => Classify.classify(f)),
              Effect.andThen(Effect.sync(() => void (released = true)))
            )
          : Effect.fail(Dialect.unsupported(dialect, "ReleaseSession", "4.0.0"))
    )
    // A session that still has operations it interrupted without seeing their end is kept:
    // Spark interrupts a released session's operations without waiting for them, and a fence
    // could no longer follow them there. Each is followed once more first.
    const settle = Effect.suspend(() =>
      Effect.forEach([...ctx.unsettled], (id) => Execute.awaitOperationEnd(ctx, id), {
        concurrency: "unbounded"
      })
    ).pipe(Effect.andThen(Effect.sync(() => [...ctx.unsettled])))
    if (options.releaseOnClose !== false)
      yield* Effect.addFinalizer(() =>
        Effect.flatMap(settle, (left) =>
          left.length === 0
            ? Effect.ignore(release)
            : Effect.logWarning(
                `kept session ${sessionId} on the server: the end of ${left.length} operation(s) it interrupted was not seen, and releasing it would hide them from a fence: ${left.join(", ")}`
              )
        )
      )
    // Runs before the release above: an operation's interrupt still under way when the session
    // closes (its stream just hit a deadline) must reach the server, or the operation runs on
    // there with nobody to stop it.
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
        Stream.runCollect(
          run(
            dialect.inlineSqlCommand
              ? Plan.inlineSqlCommand(query, o?.params)
              : Plan.sqlCommand(Plan.sql(query, o?.params)),
            o
          )
        ).pipe(
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
      query: (query, params) => ({
        relation: dialect.inlineSqlCommand ? Plan.literalSql(query, params) : Plan.sql(query, params)
      }),
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
      awaitEnd: (operationId) => Execute.awaitOperationEnd(ctx, operationId),
      unsettled: Effect.sync(() => [...ctx.unsettled]),
      release,
      // A 3.5 server keeps no cause chain to fetch: its error is all there is.
      errorDetails: (error) =>
        error.errorId === undefined || !dialect.errorDetails
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
