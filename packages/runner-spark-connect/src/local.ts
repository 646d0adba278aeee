/**
 * The local entry, for development, tests and CI: a Spark Connect server as a child JVM, the
 * Maven fetch of its jars, the class archive that makes its JVM start faster, waiting for a
 * started server (Ready), and the tether script that ends a child with this process. The main
 * entry needs none of it to talk to a remote server.
 *
 * @example
 * import { LocalServer } from "@spark-etl/runner-spark-connect/local"
 * const server = yield* LocalServer.start({ dataDir: ".spark-etl/dev", master: "local[2]" })
 */
export * as ClassArchive from "./local/ClassArchive.js"
export * as LocalServer from "./local/LocalServer.js"
export * as Maven from "./local/Maven.js"
export * as Ready from "./local/Ready.js"
export { ClassArchiveError, LocalServerError, MavenError } from "./local/errors.js"
