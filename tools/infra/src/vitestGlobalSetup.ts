/**
 * vitest global setup shared by every package whose tests need real servers. A package lists
 * its needs in its vitest config (`provide: { infraNeeds: ["spark", "kafka", "postgres"] }`, and
 * "kafka-secure" for the broker requiring SASL_SSL, "hdfs"); endpoints are started once for the whole
 * vitest run and handed to tests with `inject(...)`. SPARK_ETL_SPARK_VERSION (set by `infra run`,
 * or by hand) chooses the version of a Spark started here; tests get the version they talk to as
 * `inject("sparkVersion")`.
 * Any failure to obtain an endpoint fails the run with the reason.
 */
import { NodeServices } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as path from "node:path"
import type { TestProject } from "vitest/node"
import { quietKafkajsTimerWarning } from "@spark-etl/testing/warnings"
import * as Endpoints from "./Endpoints.js"
import "./ProvidedContext.js"

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The main vitest process probes Kafka with kafkajs too (the workers get vitestSetup).
  quietKafkajsTimerWarning()
  const needs = project.getProvidedContext().infraNeeds ?? []
  const scope = Effect.runSync(Scope.make())
  const workDir = path.resolve(project.config.root, ".spark-etl", `test-${process.pid}`)
  const sparkVersion = process.env["SPARK_ETL_SPARK_VERSION"] || undefined
  const exit = await Effect.runPromiseExit(
    Endpoints.resolve({ needs, workDir, ...(sparkVersion ? { sparkVersion } : {}) }).pipe(
      Scope.provide(scope),
      Effect.provide(NodeServices.layer)
    )
  )
  const teardown = () => Effect.runPromise(Scope.close(scope, Exit.void))
  if (Exit.isFailure(exit)) {
    await teardown()
    throw new Error(
      `integration endpoints unavailable; the run fails instead of skipping:\n${String(exit.cause)}`
    )
  }
  const endpoints = exit.value
  project.provide("sparkRemote", endpoints.sparkRemote)
  project.provide("kafkaBrokers", endpoints.kafkaBrokers)
  project.provide("infraPath", endpoints.infra.path)
  if (endpoints.postgres) project.provide("postgres", endpoints.postgres)
  if (endpoints.kafkaSecure) project.provide("kafkaSecure", endpoints.kafkaSecure)
  if (endpoints.hdfsUri) project.provide("hdfsUri", endpoints.hdfsUri)
  if (endpoints.sparkVersion) project.provide("sparkVersion", endpoints.sparkVersion)
  const described = Endpoints.describe(endpoints)
  if (needs.length > 0) {
    console.info(`[infra] ${Endpoints.describePath(endpoints)}`)
    console.info(`[infra] ${needs.map((n) => described[n]).join(" ")}`)
  }
  return teardown
}
