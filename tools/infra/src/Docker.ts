/**
 * The Docker engine as the container path uses it: whether one answers (a real `/_ping`, not a
 * socket file that may be stale), and the few `docker` CLI calls that testcontainers does not
 * make for us (image imports and their labels).
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as http from "node:http"
import * as Exec from "./Exec.js"

export class DockerError extends Data.TaggedError("DockerError")<{ readonly message: string }> {}

/** DOCKER_HOST, else the engine's usual socket. */
export const host = (): string => process.env["DOCKER_HOST"] || "unix:///var/run/docker.sock"

/**
 * Asks the engine `GET /_ping` within `timeoutMs`: its server version when it answers, else why
 * not (no socket, refused, timed out, not an engine).
 */
export const ping = (timeoutMs = 3000): Effect.Effect<string, DockerError> =>
  Effect.callback<string, DockerError>((resume) => {
    const where = host()
    const target: http.RequestOptions = where.startsWith("unix://")
      ? { socketPath: where.slice("unix://".length), path: "/_ping" }
      : where.startsWith("tcp://")
        ? { host: new URL(where).hostname, port: Number(new URL(where).port || 2375), path: "/_ping" }
        : {}
    if (target.path === undefined) {
      resume(Effect.fail(new DockerError({ message: `DOCKER_HOST ${where} is neither unix:// nor tcp://` })))
      return
    }
    const request = http.get({ ...target, timeout: timeoutMs }, (response) => {
      response.resume()
      const version = response.headers["api-version"]
      resume(
        response.statusCode === 200
          ? Effect.succeed(`API ${String(version ?? "?")}`)
          : Effect.fail(
              new DockerError({ message: `${where} answered /_ping with HTTP ${response.statusCode}` })
            )
      )
    })
    request.on("timeout", () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    request.on("error", (e) =>
      resume(Effect.fail(new DockerError({ message: `no Docker engine answers at ${where}: ${e.message}` })))
    )
    return Effect.sync(() => request.destroy())
  })

/** Runs the docker CLI to its end: its stdout, else a DockerError with what it said. */
export const docker = (
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> = {}
): Effect.Effect<string, DockerError, ChildProcessSpawner.ChildProcessSpawner> =>
  Exec.stdoutOf("docker", args, env).pipe(Effect.mapError((e) => new DockerError({ message: e.message })))

/** A label of a local image, or undefined when the image or the label is absent. */
export const imageLabel = (
  image: string,
  label: string
): Effect.Effect<string | undefined, never, ChildProcessSpawner.ChildProcessSpawner> =>
  docker(["image", "inspect", "--format", `{{index .Config.Labels ${JSON.stringify(label)}}}`, image]).pipe(
    Effect.map((out) => (out.trim() === "" || out.trim() === "<no value>" ? undefined : out.trim())),
    Effect.catch(() => Effect.succeed(undefined))
  )

export const imageSize = (
  image: string
): Effect.Effect<number, never, ChildProcessSpawner.ChildProcessSpawner> =>
  docker(["image", "inspect", "--format", "{{.Size}}", image]).pipe(
    Effect.map((out) => Number(out.trim()) || 0),
    Effect.catch(() => Effect.succeed(0))
  )
