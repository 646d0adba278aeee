/** Status probes for the infra CLI. */
import { NodeServices } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as ConnectionString from "@spark-etl/runner-spark-connect/ConnectionString"
import { LocalServer } from "@spark-etl/runner-spark-connect/local"
import * as LocalPostgres from "./LocalPostgres.js"

/** Spark's version as the server reports it, or undefined when it does not answer. */
export const sparkVersionOf = (remote: string): Promise<string | undefined> => {
  const parsed = ConnectionString.parse(remote, { allowTokenOverLoopbackPlaintext: true })
  if (Result.isFailure(parsed) || parsed.success._tag !== "Endpoint") return Promise.resolve(undefined)
  return Effect.runPromise(
    LocalServer.probe(ConnectionString.address(parsed.success), 3000).pipe(
      Effect.map((v): string | undefined => `Spark ${v}`),
      Effect.catch(() => Effect.succeed(undefined))
    )
  )
}

/** PostgreSQL's version, asked with the stored credentials, or undefined when it does not answer. */
export const postgresVersionOf = (endpoint: LocalPostgres.PostgresEndpoint): Promise<string | undefined> =>
  Effect.runPromise(
    LocalPostgres.query(endpoint, "SHOW server_version").pipe(
      Effect.map((v): string | undefined => `PostgreSQL ${v.trim()}`),
      Effect.catch(() => Effect.succeed(undefined)),
      Effect.provide(NodeServices.layer)
    )
  )
