export * as LocalServer from "./LocalServer.js"
export * as Maven from "./Maven.js"
export * as Sql from "./Sql.js"
