/**
 * This package as a plugin package (core's `Plugin.Package`): a batch that names it under
 * `plugins: ["@spark-etl/runner-jdbc"]` gets the `jdbc` rule kind.
 */
import { Plugin } from "@spark-etl/core"
import type { SparkSession } from "@spark-etl/runner-spark-connect"
import * as JdbcRunner from "./JdbcRunner.js"

export const plugin: Plugin.Package<SparkSession.SparkSession> = Plugin.definePackage({
  apiVersion: Plugin.apiVersion,
  runners: [Plugin.entry(JdbcRunner.runner)]
})
