/**
 * Public API of @spark-etl/runner-jdbc: the runner, the schema of its options, how its
 * failures are classified (and the database's state recovered), and `plugin`, the package as
 * a batch's `plugins:` loads it. Its machinery (connection options, validation) is internal.
 */
export * as Classify from "./Classify.js"
export * as DatabaseState from "./DatabaseState.js"
export * as JdbcOptions from "./JdbcOptions.js"
export * as JdbcRunner from "./JdbcRunner.js"
export { plugin } from "./plugin.js"
