/**
 * Stand-ins for a runner's engine services while a batch is only validated. Static validation
 * must not reach the engine; if a runner tries, that is a bug in the runner, reported loudly.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { Plugin, TargetStore } from "@spark-etl/core"
import * as SparkSession from "@spark-etl/runner-spark-connect/SparkSession"
import type * as Plugins from "./Plugins.js"

const misuse = (what: string) =>
  Effect.die(new Error(`a runner used the Spark session (${what}) during static validation`))

/** A SparkSession every operation of which is a defect. */
export const sparkSession: Layer.Layer<SparkSession.SparkSession> = Layer.succeed(
  SparkSession.SparkSession,
  SparkSession.SparkSession.of({
    sessionId: "(validation only)",
    sparkVersion: "(validation only)",
    remote: "(validation only)",
    sql: () => misuse("sql"),
    query: () => {
      throw new Error("a runner used the Spark session (query) during static validation")
    },
    table: () => {
      throw new Error("a runner used the Spark session (table) during static validation")
    },
    read: () => {
      throw new Error("a runner used the Spark session (read) during static validation")
    },
    schema: () => misuse("schema"),
    count: () => misuse("count"),
    toArrow: () => misuse("toArrow"),
    collect: () => misuse("collect"),
    stream: () => Stream.fromEffect(misuse("stream")),
    streamRows: () => Stream.fromEffect(misuse("streamRows")),
    write: () => misuse("write"),
    createTempView: () => misuse("createTempView"),
    getConf: () => misuse("getConf"),
    setConf: () => misuse("setConf"),
    unsetConf: () => misuse("unsetConf"),
    interrupt: () => misuse("interrupt"),
    awaitEnd: () => misuse("awaitEnd"),
    // Nothing ran, so nothing was left unsettled.
    unsettled: Effect.succeed([]),
    release: misuse("release"),
    errorDetails: (e) => Effect.succeed(e)
  })
)

/** The plugins' runners, with stand-ins for their engine services: they can validate, never run. */
const registry = (plugins: ReadonlyArray<Plugins.Loaded>): Layer.Layer<Plugin.Registry> =>
  Layer.effect(
    Plugin.Registry,
    Effect.forEach(
      plugins.flatMap((p) => p.pkg.runners),
      (entry) => entry.use((runner) => Plugin.load(runner).pipe(Effect.provide(sparkSession)))
    ).pipe(Effect.flatMap(Plugin.makeRegistry))
  )

/** The services of {@link layer}. */
export type Services = Plugin.Registry | TargetStore.TargetStore | NodeServices.NodeServices

/**
 * What loading a batch needs (validate, plan, dry run), and what `plan --resume` and
 * `status --rules` fingerprint its rules with: no event sink, no engine. Kept apart from
 * Layers (imported only when a run starts), so these commands never load gRPC, Arrow or kafkajs.
 */
export const layer = (plugins: ReadonlyArray<Plugins.Loaded>): Layer.Layer<Services> =>
  Layer.mergeAll(registry(plugins), TargetStore.layerFileSystem).pipe(Layer.provideMerge(NodeServices.layer))
