/** Public API of @spark-etl/runner-sql; each concept is a namespace. */
export * as Classify from "./Classify.js"
export * as Expectations from "./Expectations.js"
export * as Parameters from "./Parameters.js"
export * as Preflight from "./Preflight.js"
export * as SqlOptions from "./SqlOptions.js"
export * as SqlRunner from "./SqlRunner.js"
export * as Statements from "./Statements.js"
