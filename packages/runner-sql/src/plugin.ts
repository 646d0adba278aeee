/**
 * This package as a plugin package (core's `Plugin.Package`): the CLI registers it as it
 * registers any plugin a batch names — it is only built in.
 */
import { Plugin } from "@spark-etl/core"
import type { SparkSession } from "@spark-etl/runner-spark-connect"
import * as SqlRunner from "./SqlRunner.js"

export const plugin: Plugin.Package<SparkSession.SparkSession> = Plugin.definePackage({
  apiVersion: Plugin.apiVersion,
  runners: [Plugin.entry(SqlRunner.runner)]
})
