/**
 * Public API of @spark-etl/runner-sql: the runner, the schema of its options and the stable
 * codes of its expectations, and `plugin`, the package as the CLI registers it. Its machinery
 * (preflight, statements, classification) is internal.
 */
export * as Expectations from "./Expectations.js"
export * as SqlOptions from "./SqlOptions.js"
export * as SqlRunner from "./SqlRunner.js"
export { plugin } from "./plugin.js"
