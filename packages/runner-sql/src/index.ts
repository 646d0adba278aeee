export * as Statements from "./Statements.js"
