/**
 * The one place where grpc-js meets protobuf-es: typed unary and server-streaming calls on a
 * channel, each with a deadline, as Effects and Streams. Error decoding lives in SparkError.ts.
 */
import * as grpc from "@grpc/grpc-js"
import { fromBinary, toBinary } from "@bufbuild/protobuf"
import type {
  DescMessage,
  DescMethodServerStreaming,
  DescMethodUnary,
  MessageShape
} from "@bufbuild/protobuf"
import * as Effect from "effect/Effect"
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

/**
 * A server-streaming call as a Stream. The deadline bounds the whole stream; a consumer that
 * stops early (or is interrupted) cancels the call. `decode` replaces the plain protobuf
 * decoding of each message (it gets the message's own buffer).
 */
export const serverStream = <I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: DescMethodServerStreaming<I, O>,
  request: MessageShape<I>,
  options: CallOptions,
  decode?: (bytes: Uint8Array) => MessageShape<O>
): Stream.Stream<MessageShape<O>, RpcFailure> =>
  Stream.suspend(() => {
    const state = {
      cancelledHere: false,
      deadline: Date.now() + options.timeoutMs,
      timeoutMs: options.timeoutMs
    }
    return Stream.fromAsyncIterable(
      {
        [Symbol.asyncIterator]: () => {
          const { deserialize, serialize } = codec(method.input, method.output, decode)
          const call = client.makeServerStreamRequest(
            path(method),
            serialize,
            deserialize,
            request,
            options.metadata,
            { deadline: state.deadline }
          )
          const iterator = call[Symbol.asyncIterator]() as AsyncIterator<MessageShape<O>>
          return {
            next: () => iterator.next(),
            return: (value?: unknown) => {
              state.cancelledHere = true
              call.cancel()
              return Promise.resolve({ done: true as const, value: value as MessageShape<O> })
            }
          }
        }
      },
      (e) => deadlineOrCancel(toRpcFailure(e), state, Date.now())
    )
  })
