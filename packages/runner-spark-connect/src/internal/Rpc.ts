/**
 * The one place where grpc-js meets protobuf-es: typed unary and server-streaming calls on a
 * channel, each with a deadline, as Effects and Streams. Error decoding lives in Classify.ts.
 */
import * as grpc from "@grpc/grpc-js"
import { fromBinary, toBinary } from "@bufbuild/protobuf"
import type {
  DescMessage,
  DescMethodServerStreaming,
  DescMethodUnary,
  MessageShape
} from "@bufbuild/protobuf"
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Effect from "effect/Effect"
import type * as Pull from "effect/Pull"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/** A failed gRPC call: the status and whatever the server attached, still undecoded. */
export interface RpcFailure {
  readonly code: grpc.status
  readonly details: string
  readonly metadata: grpc.Metadata | undefined
}

const isServiceError = (u: unknown): u is grpc.ServiceError =>
  typeof u === "object" && u !== null && "code" in u && "details" in u

// A label closing the text with nothing after its colon: at the start, after a sentence (the
// full stop stays) or after a `;` or `,` (which goes with it).
const emptyTrailingLabel = /(?:^|(?<=[.!?])|[;,])\s*[A-Za-z][\w -]{0,40}:\s*$/

/**
 * gRPC status text as people read it: grpc-js ends an unreachable server's text with an empty
 * "Resolution note: ", and a label with nothing after it reads like a missing cause.
 */
export const tidyDetails = (details: string): string => details.replace(emptyTrailingLabel, "").trimEnd()

export const toRpcFailure = (u: unknown): RpcFailure =>
  isServiceError(u)
    ? { code: u.code, details: tidyDetails(u.details), metadata: u.metadata }
    : {
        code: grpc.status.UNKNOWN,
        details: tidyDetails(u instanceof Error ? u.message : String(u)),
        metadata: undefined
      }

// How early a server may end a call at its deadline, against the client's clock: the deadline
// travels as a relative timeout, and the server's timer is its own.
const serverDeadlineSlackMs = 250

/**
 * A call this client did not cancel that ends CANCELLED at (or just before) its deadline was ended
 * by the server's deadline timer: grpc-java resets the stream (RST_STREAM CANCEL), which grpc-js
 * reports as "Call cancelled", racing the client's own DEADLINE_EXCEEDED. It is the deadline.
 */
export const deadlineOrCancel = (
  failure: RpcFailure,
  call: { readonly cancelledHere: boolean; readonly deadline: number; readonly timeoutMs: number },
  now: number
): RpcFailure =>
  failure.code === grpc.status.CANCELLED &&
  !call.cancelledHere &&
  now >= call.deadline - serverDeadlineSlackMs
    ? {
        ...failure,
        code: grpc.status.DEADLINE_EXCEEDED,
        details: `deadline of ${call.timeoutMs} ms exceeded (the server ended the call: ${failure.details})`
      }
    : failure

const path = (method: { readonly name: string; readonly parent: { readonly typeName: string } }) =>
  `/${method.parent.typeName}/${method.name}`

const codec = <I extends DescMessage, O extends DescMessage>(
  input: I,
  output: O,
  decode: (bytes: Uint8Array) => MessageShape<O> = (bytes) => fromBinary(output, bytes)
) => ({
  serialize: (message: MessageShape<I>) => Buffer.from(toBinary(input, message)),
  deserialize: decode
})

export interface CallOptions {
  readonly metadata: grpc.Metadata
  readonly timeoutMs: number
}

/**
 * Waits until the channel has a live HTTP/2 connection (the server's SETTINGS received), at
 * most `timeoutMs`. grpc-js queues a call on a connecting channel until the call's own
 * deadline; for a result stream that is many minutes, and a black hole (packets dropped, no
 * RST) would hold the connection attempt that long. Checked before each stream attempt, it
 * bounds the attempt by the short deadline instead.
 */
export const ready = (client: grpc.Client, timeoutMs: number): Effect.Effect<void, RpcFailure> =>
  Effect.suspend(() =>
    // Connected already (the usual case): no need for waitForReady's setImmediate hop.
    client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY
      ? Effect.void
      : waitForReady(client, timeoutMs)
  )

const waitForReady = (client: grpc.Client, timeoutMs: number): Effect.Effect<void, RpcFailure> =>
  Effect.callback<void, RpcFailure>((resume) => {
    client.waitForReady(Date.now() + timeoutMs, (error) => {
      if (error === undefined || error === null) resume(Effect.void)
      else
        resume(
          Effect.fail({
            code: grpc.status.UNAVAILABLE,
            details: `no connection to the server within ${timeoutMs} ms (${tidyDetails(error.message)})`,
            metadata: undefined
          })
        )
    })
  })

/** A unary call; interrupting the Effect cancels the call on the wire. */
export const unary = <I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: DescMethodUnary<I, O>,
  request: MessageShape<I>,
  options: CallOptions
): Effect.Effect<MessageShape<O>, RpcFailure> =>
  Effect.callback<MessageShape<O>, RpcFailure>((resume) => {
    const { deserialize, serialize } = codec(method.input, method.output)
    const state = {
      cancelledHere: false,
      deadline: Date.now() + options.timeoutMs,
      timeoutMs: options.timeoutMs
    }
    const call = client.makeUnaryRequest(
      path(method),
      serialize,
      deserialize,
      request,
      options.metadata,
      { deadline: state.deadline },
      (error, response) => {
        if (error) resume(Effect.fail(deadlineOrCancel(toRpcFailure(error), state, Date.now())))
        else if (response === undefined) resume(Effect.fail(toRpcFailure(new Error("empty response"))))
        else resume(Effect.succeed(response))
      }
    )
    return Effect.sync(() => {
      state.cancelledHere = true
      call.cancel()
    })
  })

// Messages held before the call stops reading from the connection (HTTP/2 flow control then
// holds the server): a Readable's default, as before.
const highWaterMark = 16

/**
 * A server-streaming call as a Stream. The deadline bounds the whole stream; a consumer that
 * stops early (or is interrupted) cancels the call. `decode` replaces the plain protobuf
 * decoding of each message (it gets the message's own buffer).
 *
 * Each pull takes every message that has arrived since the last one, as one chunk: a response
 * stream's messages often come in one read (a query's schema, batch, metrics and end), and a
 * promise per message through the call's async iterator cost a small query a third of its
 * allocations.
 */
export const serverStream = <I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: DescMethodServerStreaming<I, O>,
  request: MessageShape<I>,
  options: CallOptions,
  decode?: (bytes: Uint8Array) => MessageShape<O>
): Stream.Stream<MessageShape<O>, RpcFailure> =>
  Stream.fromChannel(
    Channel.fromTransform((_, scope) =>
      Effect.suspend(() => {
        const state = {
          cancelledHere: false,
          deadline: Date.now() + options.timeoutMs,
          timeoutMs: options.timeoutMs
        }
        const { deserialize, serialize } = codec(method.input, method.output, decode)
        const call = client.makeServerStreamRequest(
          path(method),
          serialize,
          deserialize,
          request,
          options.metadata,
          { deadline: state.deadline }
        )
        let buffer: Array<MessageShape<O>> = []
        let paused = false
        let ended = false
        let failure: RpcFailure | undefined
        let wake: (() => void) | undefined
        call.on("data", (message: MessageShape<O>) => {
          buffer.push(message)
          if (buffer.length >= highWaterMark && !paused) {
            paused = true
            call.pause()
          }
          wake?.()
        })
        // Always listened to: an unheard "error" event would crash the process.
        call.on("error", (error: unknown) => {
          failure = deadlineOrCancel(toRpcFailure(error), state, Date.now())
          wake?.()
        })
        call.on("end", () => {
          ended = true
          wake?.()
        })
        const pull: Pull.Pull<Arr.NonEmptyReadonlyArray<MessageShape<O>>, RpcFailure> = Effect.suspend(() => {
          if (Arr.isArrayNonEmpty(buffer)) {
            const chunk = buffer
            buffer = []
            if (paused) {
              paused = false
              call.resume()
            }
            return Effect.succeed(chunk)
          }
          if (failure !== undefined) return Effect.fail(failure)
          if (ended) return Cause.done()
          return Effect.callback<Arr.NonEmptyReadonlyArray<MessageShape<O>>, RpcFailure | Cause.Done>(
            (resume) => {
              wake = () => {
                wake = undefined
                resume(pull)
              }
              return Effect.sync(() => void (wake = undefined))
            }
          )
        })
        return Scope.addFinalizer(
          scope,
          Effect.sync(() => {
            if (ended || failure !== undefined) return
            state.cancelledHere = true
            call.cancel()
          })
        ).pipe(Effect.as(pull))
      })
    )
  )
