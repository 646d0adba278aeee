/**
 * The exit code a command's handler decided on, carried to program.ts. effect/cli runs a handler
 * as `Effect<void>` and `Command.runWith` returns nothing of it, so each handler's `ExitCode` is
 * recorded here, in a Ref that program.ts provides and reads once the command has finished.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type { ExitCode } from "@spark-etl/core"

export class ExitStatus extends Context.Service<ExitStatus, Ref.Ref<Option.Option<ExitCode>>>()(
  "@spark-etl/cli/ExitStatus"
) {}

/** Empty until a handler ends: help, version, and a command line effect/cli refused run none. */
export const layer: Layer.Layer<ExitStatus> = Layer.effect(ExitStatus, Ref.make(Option.none<ExitCode>()))

/** A command handler whose exit code is recorded. */
export const recorded =
  <A, E, R>(handler: (input: A) => Effect.Effect<ExitCode, E, R>) =>
  (input: A): Effect.Effect<void, E, R | ExitStatus> =>
    Effect.flatMap(handler(input), (code) =>
      Effect.flatMap(ExitStatus, (ref) => Ref.set(ref, Option.some(code)))
    )

/** The recorded exit code, if a handler ran. */
export const get: Effect.Effect<Option.Option<ExitCode>, never, ExitStatus> = Effect.flatMap(
  ExitStatus,
  Ref.get
)
