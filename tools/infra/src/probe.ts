/** Status probes for the infra CLI. */
import { Effect } from "effect"
import { LocalServer } from "@spark-etl/runner-spark-connect/local"

/** Spark's version as the server reports it, or undefined when it does not answer. */
export const sparkVersionOf = (remote: string): Promise<string | undefined> =>
  Effect.runPromise(
    LocalServer.probe(remote.replace(/^sc:\/\//, "").replace(/\/.*$/, ""), 3000).pipe(
      Effect.map((v): string | undefined => `Spark ${v}`),
      Effect.catch(() => Effect.succeed(undefined))
    )
  )
