/**
 * A command run to its end with its output kept: how infra calls the tools whose result is all it
 * needs (docker, mmdebstrap, tar, openssl, getent, initdb, psql). Servers, which outlive the
 * call, are started with `ChildProcess.make` and a tether instead.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as Redacted from "effect/Redacted"
import type { PlatformError } from "effect/PlatformError"
import * as ChildProcess from "effect/process/ChildProcess"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"

/** A command that could not be run, or that exited with a code other than 0. */
export class ExecError extends Data.TaggedError("ExecError")<{ readonly message: string }> {}

export interface Finished {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: number
}

/**
 * Runs `command` with no stdin and this process's environment plus `env` (a Redacted value is
 * passed to the child and never logged). Fails only when the command cannot be run; an exit code
 * other than 0 is the caller's to judge.
 *
 * @example
 * const { stdout, exitCode } = yield* Exec.toEnd("getent", ["passwd", "postgres"])
 */
export const toEnd = (
  command: string,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string | Redacted.Redacted<string>>> = {}
): Effect.Effect<Finished, PlatformError, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.scoped(
    Effect.gen(function* () {
      const handle = yield* ChildProcess.make(command, args, { stdin: "ignore", env, extendEnv: true })
      const [stdout, stderr, exitCode] = yield* Effect.all(
        [
          Stream.mkString(Stream.decodeText(handle.stdout)),
          Stream.mkString(Stream.decodeText(handle.stderr)),
          handle.exitCode
        ],
        { concurrency: "unbounded" }
      )
      return { stdout, stderr, exitCode: Number(exitCode) }
    })
  )

/** What a failed command said, for an error message: its stderr, else its stdout, the last part. */
export const said = (finished: Finished, maxChars = 2000): string =>
  (finished.stderr.trim() !== "" ? finished.stderr : finished.stdout).trim().slice(-maxChars)

/**
 * Runs `command` to its end like `toEnd`; its stdout when it exits 0, else an ExecError naming the
 * command, its exit code and what it said. stdout only: a warning on stderr never reaches a value
 * the caller parses.
 */
export const stdoutOf = (
  command: string,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string | Redacted.Redacted<string>>> = {}
): Effect.Effect<string, ExecError, ChildProcessSpawner.ChildProcessSpawner> =>
  toEnd(command, args, env).pipe(
    Effect.mapError((e) => new ExecError({ message: `cannot run ${command}: ${e.message}` })),
    Effect.flatMap((finished) =>
      finished.exitCode === 0
        ? Effect.succeed(finished.stdout)
        : Effect.fail(
            new ExecError({
              message: `${command} ${args[0] ?? ""} exited with ${finished.exitCode}: ${said(finished)}`
            })
          )
    )
  )
