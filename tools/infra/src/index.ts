export * as Endpoints from "./Endpoints.js"
export * as LocalKafka from "./LocalKafka.js"
export * as LocalPostgres from "./LocalPostgres.js"
