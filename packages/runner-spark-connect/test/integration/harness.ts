// Runs a program against a fresh session on the shared test server.
import { Effect, Exit, Option } from "effect"
import { randomUUID } from "node:crypto"
import { inject } from "vitest"
import type * as SparkError from "../../src/SparkError.js"
import * as SparkSession from "../../src/SparkSession.js"

/** The shared server's connection string. */
export const remote = (): SparkSession.RemoteUrl => {
  const url = inject("sparkRemote")
  if (!SparkSession.isRemoteUrl(url))
    throw new Error(`the test server's connection string is not sc://…: ${url}`)
  return url
}

/** The Spark version of the server the tests talk to, e.g. `3.5.7`. */
export const sparkVersion = (): string => inject("sparkVersion")

/** Whether that server is Spark 3.x (see the client README's table of differences). */
export const isSpark3 = (): boolean => sparkVersion().startsWith("3.")

/** A unique, SQL-safe name for this test's tables, views and paths. */
export const unique = (prefix: string): string => `${prefix}_${randomUUID().replaceAll("-", "").slice(0, 12)}`

/** A session's options on the shared server; a remote one needs no platform services. */
export type SessionOptions = Partial<Omit<SparkSession.Options, "remote">> & {
  readonly remote?: SparkSession.RemoteUrl
}

/**
 * Runs `body` with a session, closing it (ReleaseSession, channel) afterwards. Nothing is
 * provided: a session on a remote server needs no ChildProcessSpawner (SparkSession.RemoteUrl).
 */
export const withSession = <A, E>(
  body: (spark: SparkSession.Session) => Effect.Effect<A, E>,
  options: SessionOptions = {}
): Promise<Exit.Exit<A, E | SparkSession.MakeError>> =>
  Effect.runPromiseExit(
    Effect.scoped(Effect.flatMap(SparkSession.make({ remote: remote(), ...options }), body))
  )

/** Like {@link withSession}, but returns the value and throws the failure for vitest to report. */
export const session = async <A, E>(
  body: (spark: SparkSession.Session) => Effect.Effect<A, E>,
  options: SessionOptions = {}
): Promise<A> => {
  const exit = await withSession(body, options)
  if (Exit.isSuccess(exit)) return exit.value
  throw new Error(`session program failed: ${String(exit.cause)}`)
}

/** The typed failure of an exit, or undefined when it succeeded or died. */
export const failureOf = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Option.getOrUndefined(Exit.findErrorOption(exit))

/**
 * 100,000 literal rows, `(0),(1),…`: a view over them (`… AS SELECT * FROM VALUES ${literalRows}
 * AS t(x)`) takes Spark about a second to parse, and parsing goes on after an interrupt. (More
 * rows, repeated, put the shared 2 GiB server into back-to-back full collections.)
 */
export const literalRows = Array.from({ length: 100_000 }, (_, i) => `(${i})`).join(",")

/** Whether the view `view` is there, as `spark` sees it (`global_temp` for a global one). */
export const viewExists = (
  spark: SparkSession.Session,
  view: string,
  where: "global_temp" | "session" = "global_temp"
): Effect.Effect<boolean, SparkError.SparkError> =>
  Effect.flatMap(
    spark.sql(`SHOW VIEWS ${where === "global_temp" ? "IN global_temp " : ""}LIKE '${view}'`),
    (df) => spark.collect(df)
  ).pipe(Effect.map((rows) => rows.length === 1))

/** The workspace's poll: repeats a check until its answer holds, with a deadline. */
export { untilHolds as pollUntil } from "@spark-etl/testing"
