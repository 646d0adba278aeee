/**
 * Reattachable execution: ExecutePlan, then ReattachExecute from the last response seen
 * whenever the stream breaks or ends without ResultComplete, under the session's retry
 * schedule; ReleaseExecute for what was consumed and for everything at the end; Interrupt of
 * the operation on the server when the consumer is interrupted.
 */
import { create } from "@bufbuild/protobuf"
import type { DescMessage, DescMethodUnary, MessageShape } from "@bufbuild/protobuf"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { randomUUID } from "node:crypto"
import type { ExecutePlanResponse, Plan, UserContext } from "../generated/spark/connect/base_pb.js"
import {
  ExecutePlanRequest_RequestOptionSchema,
  ExecutePlanRequestSchema,
  InterruptRequest_InterruptType,
  InterruptRequestSchema,
  ReattachExecuteRequestSchema,
  ReleaseExecuteRequestSchema,
  SparkConnectService
} from "../generated/spark/connect/base_pb.js"
import * as SparkError from "../SparkError.js"
import * as Classify from "./Classify.js"
import type * as Connection from "./Connection.js"
import * as Rpc from "./Rpc.js"
import * as Wire from "./Wire.js"

/** What an execution needs from its session. */
export interface Context {
  readonly client: Connection.Connection
  readonly sessionId: string
  readonly userContext: UserContext
  readonly clientType: string
  readonly metadata: Readonly<Record<string, string>>
  /** Deadline of each unary RPC. */
  readonly rpcTimeoutMs: number
  /** Deadline of each ExecutePlan / ReattachExecute stream (the server ends one every 2 min). */
  readonly streamTimeoutMs: number
  /** How long a stopped or failed stream waits for the server to end the operation it interrupted. */
  readonly interruptWaitMs: number
  /** Retry schedule for retryable failures; its input is the failure. */
  readonly retry: Schedule.Schedule<unknown, SparkError.SparkError>
  /** The server-side session id seen first; a change means the session was replaced. */
  readonly serverSession: { id: string | undefined }
  /** Runs a fire-and-forget call (release, interrupt) within the session's lifetime. */
  readonly background: (effect: Effect.Effect<unknown, unknown>) => Effect.Effect<void>
  /**
   * Commands this session interrupted without seeing their end. They are not released
   * (ReleaseExecute would drop them from the server's view while they run on), so that a fence
   * can still follow them; the session's close follows them once more before it releases.
   */
  readonly unsettled: Set<string>
}

/** Per-operation options: tags (for interrupt by tag) and an explicit operation id. */
export interface OperationOptions {
  /** Operation tags; `interrupt({ tag })` stops every running operation that carries one. */
  readonly tags?: ReadonlyArray<string>
  /** A UUID; one is generated when absent. */
  readonly operationId?: string
}

// Release what was consumed every so many result batches, so the server's retry buffer stays
// small. Only batches count: a statement's other responses (progress every 2 s, metrics) are
// small, and while none is released its operation can be followed from its start (a fence's
// awaitEnd) for as long as it runs.
const releaseEvery = 8

const observed = (ctx: Context) =>
  ctx.serverSession.id !== undefined ? { clientObservedServerSideSessionId: ctx.serverSession.id } : {}

/** Checks (and remembers) the server-side session id of an answer. */
export const checkServerSession = (
  ctx: Context,
  serverSideSessionId: string
): SparkError.SparkError | undefined => {
  if (serverSideSessionId === "") return undefined
  if (ctx.serverSession.id === undefined) ctx.serverSession.id = serverSideSessionId
  else if (ctx.serverSession.id !== serverSideSessionId)
    return SparkError.make("SparkSessionLost", {
      message: `the server replaced session ${ctx.sessionId} (server-side id ${ctx.serverSession.id} → ${serverSideSessionId})`,
      errorClass: "INVALID_HANDLE.SESSION_CHANGED"
    })
  return undefined
}

/** A unary call with the session's deadline, classified errors and the retry schedule. */
export const unary = <I extends DescMessage, O extends DescMessage>(
  ctx: Context,
  method: DescMethodUnary<I, O>,
  request: MessageShape<I>
): Effect.Effect<MessageShape<O>, SparkError.SparkError> =>
  Rpc.unary(ctx.client, method, request, { metadata: ctx.metadata, timeoutMs: ctx.rpcTimeoutMs }).pipe(
    Effect.mapError((f) => Classify.classify(f)),
    Effect.retry(ctx.retry)
  )

const releaseExecute = (ctx: Context, operationId: string, until: string | undefined) =>
  Rpc.unary(
    ctx.client,
    SparkConnectService.method.releaseExecute,
    create(ReleaseExecuteRequestSchema, {
      sessionId: ctx.sessionId,
      userContext: ctx.userContext,
      clientType: ctx.clientType,
      operationId,
      ...observed(ctx),
      release:
        until === undefined
          ? { case: "releaseAll", value: {} }
          : { case: "releaseUntil", value: { responseId: until } }
    }),
    { metadata: ctx.metadata, timeoutMs: ctx.rpcTimeoutMs }
  )

/** Interrupts one operation on the server (used when its consumer goes away). */
const interruptOperation = (ctx: Context, operationId: string) =>
  Rpc.unary(
    ctx.client,
    SparkConnectService.method.interrupt,
    create(InterruptRequestSchema, {
      sessionId: ctx.sessionId,
      userContext: ctx.userContext,
      clientType: ctx.clientType,
      ...observed(ctx),
      interruptType: InterruptRequest_InterruptType.OPERATION_ID,
      interrupt: { case: "operationId", value: operationId }
    }),
    { metadata: ctx.metadata, timeoutMs: ctx.rpcTimeoutMs }
  )

/** ReattachExecute: the operation's responses after `lastResponseId` (all, without one). */
const reattachStream = (
  ctx: Context,
  operationId: string,
  lastResponseId: string | undefined,
  timeoutMs: number
) =>
  Rpc.serverStream(
    ctx.client,
    SparkConnectService.method.reattachExecute,
    create(ReattachExecuteRequestSchema, {
      sessionId: ctx.sessionId,
      userContext: ctx.userContext,
      clientType: ctx.clientType,
      ...observed(ctx),
      operationId,
      ...(lastResponseId !== undefined ? { lastResponseId } : {})
    }),
    { metadata: ctx.metadata, timeoutMs },
    Wire.decodeExecutePlanResponse
  )

/** Whether the connection is up to the server now. */
const connected = (ctx: Context) => ctx.client.isReady()

// The server's answers that do not say the operation ended: a position it no longer holds, or
// another attach (the operation's own client, still alive) that took its stream over; that one
// is followed again.
const notAnEnd = (errorClass: string) => errorClass.startsWith("INVALID_CURSOR")
const takenOver = "INVALID_CURSOR.DISCONNECTED"
// A position the server no longer holds: released by a client that read past it.
const positionLost = (errorClass: string | undefined) =>
  errorClass === "INVALID_CURSOR.POSITION_NOT_AVAILABLE" || errorClass === "INVALID_CURSOR.POSITION_NOT_FOUND"

/**
 * Why a stream that stopped before its end waits for the server to end its operation: Spark ends
 * an interrupted operation's stream only once the operation's thread has stopped; until then
 * that thread may still run and commit a write. (Seen on 4.1.2: an interrupt that landed in
 * Hadoop's local-filesystem mkdirs was swallowed there and the INSERT committed 8 s later,
 * before the stream ended with OPERATION_CANCELED.)
 *
 * Follows an operation (ReattachExecute) until the server ends it: ResultComplete, or an error
 * the server reports for it (OPERATION_CANCELED, OPERATION_NOT_FOUND, the query's own). A stream
 * that ends without either (another client took the operation over, the server's own stream
 * limit) is followed again. Followed from its start (`lastResponseId` undefined: a fence's), an
 * operation whose first response the server no longer holds is "answered": its own client read
 * and released it, which this client does only for result batches, so it is a query that
 * returned rows; and a position lost to another reader's release is followed from the start
 * again. "unseen" when no end can be seen: no connection, a broken link, or the server no
 * longer holds the responses after our own position. Its caller bounds how long it waits.
 */
const awaitEnd = (
  ctx: Context,
  operationId: string,
  lastResponseId: string | undefined
): Effect.Effect<"ended" | "answered" | "unseen"> =>
  Effect.suspend(() => {
    const state = { lastResponseId, complete: false }
    // A follow's deadline is the wait's bound, not the stream's own: that may be what ran out.
    const follow: Effect.Effect<"ended" | "answered" | "unseen" | "again"> = Effect.suspend(() =>
      // No connection now: nothing to wait on (the operation may run on, as before).
      !connected(ctx)
        ? Effect.succeed("unseen")
        : reattachStream(ctx, operationId, state.lastResponseId, ctx.interruptWaitMs).pipe(
            Stream.runForEachArray((responses) =>
              Effect.sync(() => {
                for (const response of responses) {
                  state.lastResponseId = response.responseId
                  if (response.responseType.case === "resultComplete") state.complete = true
                }
              })
            ),
            Effect.match({
              onSuccess: () => (state.complete ? "ended" : "again"),
              onFailure: (f) => {
                const errorClass = Classify.classify(f, operationId).errorClass
                if (errorClass === takenOver) return "again"
                if (lastResponseId === undefined && positionLost(errorClass)) {
                  if (state.lastResponseId === undefined) return "answered"
                  // Followed from its start, then another reader released past our position.
                  state.lastResponseId = undefined
                  return "again"
                }
                return errorClass !== undefined && !notAnEnd(errorClass) ? "ended" : "unseen"
              }
            })
          )
    )
    // (A pause between follows: the other attach may take the stream back just as quickly.)
    return follow.pipe(
      Effect.repeat({ while: (seen) => seen === "again", schedule: Schedule.spaced("100 millis") }),
      Effect.map((seen) => (seen === "again" ? "unseen" : seen))
    )
  })

/**
 * What the server shows of an operation of this session within interruptWaitMs, followed from
 * its start (see awaitEnd): for an operation this client did not start here, as a fence's in a
 * session it attached to. "unknown" when it shows no end in time or cannot be followed.
 */
export const awaitOperationEnd = (
  ctx: Context,
  operationId: string
): Effect.Effect<"ended" | "answered" | "unknown"> =>
  awaitEnd(ctx, operationId, undefined).pipe(
    Effect.timeoutOption(ctx.interruptWaitMs),
    Effect.map((seen) => {
      const end = Option.getOrElse(seen, () => "unseen" as const)
      if (end === "unseen") return "unknown"
      ctx.unsettled.delete(operationId)
      return end
    })
  )

/**
 * Executes a plan as a stream of responses (ResultComplete included). The stream survives
 * breaks through reattach; interrupting or abandoning it interrupts the operation on the server.
 */
export const execute = (
  ctx: Context,
  plan: Plan,
  options: OperationOptions = {}
): Stream.Stream<ExecutePlanResponse, SparkError.SparkError> =>
  Stream.suspend(() => {
    const operationId = options.operationId ?? randomUUID()
    const state = {
      started: false,
      complete: false,
      lastResponseId: undefined as string | undefined,
      unreleased: 0
    }
    const streamOptions = { metadata: ctx.metadata, timeoutMs: ctx.streamTimeoutMs }
    const first = () =>
      Rpc.serverStream(
        ctx.client,
        SparkConnectService.method.executePlan,
        create(ExecutePlanRequestSchema, {
          sessionId: ctx.sessionId,
          userContext: ctx.userContext,
          clientType: ctx.clientType,
          ...observed(ctx),
          operationId,
          plan,
          tags: [...(options.tags ?? [])],
          requestOptions: [
            create(ExecutePlanRequest_RequestOptionSchema, {
              requestOption: { case: "reattachOptions", value: { reattachable: true } }
            })
          ]
        }),
        streamOptions,
        Wire.decodeExecutePlanResponse
      )
    const reattach = () => reattachStream(ctx, operationId, state.lastResponseId, ctx.streamTimeoutMs)
    const attempt = Stream.suspend(() =>
      // Before the first response we cannot know the server has the operation: send it again.
      // Each attempt first waits for a connection within the unary deadline; once connected,
      // keepalive pings (see SparkSession) detect a link that stops answering mid-stream.
      Stream.unwrap(
        Effect.map(Rpc.ready(ctx.client, ctx.rpcTimeoutMs), () => (state.started ? reattach() : first()))
      ).pipe(
        Stream.mapError((f) => Classify.classify(f, operationId)),
        // A chunk holds the responses that arrived together; one release covers all of them.
        Stream.mapArrayEffect((responses) => {
          let releaseUntil: string | undefined
          for (const response of responses) {
            const changed = checkServerSession(ctx, response.serverSideSessionId)
            if (changed) return Effect.fail(changed)
            state.started = true
            state.lastResponseId = response.responseId
            if (response.responseType.case === "resultComplete") state.complete = true
            else if (response.responseType.case === "arrowBatch" && ++state.unreleased >= releaseEvery) {
              state.unreleased = 0
              releaseUntil = response.responseId
            }
          }
          return releaseUntil === undefined
            ? Effect.succeed(responses)
            : ctx.background(releaseExecute(ctx, operationId, releaseUntil)).pipe(Effect.as(responses))
        }),
        Stream.concat(
          Stream.suspend(() => {
            // A stream that ended cleanly came from a server that has the operation, even with
            // no response yet (3.5 may cut the first stream before its first batch): reattach.
            state.started = true
            return state.complete
              ? Stream.empty
              : Stream.fail(
                  SparkError.make("SparkStreamBroken", {
                    message: `the result stream of operation ${operationId} ended before ResultComplete`,
                    operationId
                  })
                )
          })
        )
      )
    )
    return attempt.pipe(
      Stream.retry(ctx.retry),
      Stream.onExit((exit) => {
        // A failure the server reported (it has an error class) ended the operation there;
        // anything else (interrupt, a consumer that stopped early, a deadline, a lost
        // connection) may leave it running, so interrupt it too.
        const failure = Exit.isFailure(exit) && !Exit.hasInterrupts(exit)
        const failedOnServer =
          failure && Option.getOrUndefined(Exit.findErrorOption(exit))?.errorClass !== undefined
        if (state.complete || failedOnServer)
          return state.started ? ctx.background(releaseExecute(ctx, operationId, undefined)) : Effect.void
        // A command left running is kept unsettled, not released: released, it would drop out of
        // the server's view while it runs on, and a fence following it would call it ended. A
        // query writes nothing, and is released: kept, the server would go on buffering its
        // unread results (Spark runs an operation apart from its stream) for minutes.
        const command = plan.opType.case === "command"
        const keep = Effect.sync(() => void ctx.unsettled.add(operationId))
        // A lost link: the server is out of reach, nothing to wait for. The interrupt (and a
        // query's release) is sent if the link comes back.
        if (failure && !connected(ctx))
          return command
            ? Effect.andThen(keep, ctx.background(interruptOperation(ctx, operationId)))
            : ctx.background(
                interruptOperation(ctx, operationId).pipe(
                  Effect.ignore,
                  Effect.andThen(releaseExecute(ctx, operationId, undefined))
                )
              )
        // Stopped by its consumer, or failed with the server in reach (a deadline): the stop
        // holds only once the server has ended the operation, so the consumer waits for that
        // (within interruptWaitMs) before it goes on: a retry must not clean a target that the
        // attempt before it may still write.
        // (Interruptible inside this finalizer, so that the bound can cut it short.)
        return interruptOperation(ctx, operationId).pipe(
          Effect.ignore,
          Effect.andThen(awaitEnd(ctx, operationId, state.lastResponseId)),
          Effect.interruptible,
          Effect.timeoutOption(ctx.interruptWaitMs),
          Effect.flatMap((seen) => {
            if (Option.getOrUndefined(seen) === "ended")
              return ctx.background(releaseExecute(ctx, operationId, undefined))
            const unseen = `operation ${operationId} was interrupted, but the server did not show its end within ${Duration.format(Duration.millis(ctx.interruptWaitMs))}: it may still be running there`
            return command
              ? Effect.andThen(keep, Effect.logWarning(`${unseen}, and is kept there for a fence to follow`))
              : Effect.andThen(
                  Effect.logWarning(unseen),
                  ctx.background(releaseExecute(ctx, operationId, undefined))
                )
          })
        )
      })
    )
  })
