/** What the infra global setup hands to tests through vitest's `inject`. */
import type { SecureEndpoint } from "./KafkaSecurity.js"
import type { PostgresEndpoint } from "./LocalPostgres.js"

declare module "vitest" {
  export interface ProvidedContext {
    /** Which servers this package's tests need; set in its vitest config. */
    infraNeeds: ReadonlyArray<"spark" | "kafka" | "postgres" | "kafka-secure" | "hdfs">
    /** Spark Connect connection string, e.g. `sc://127.0.0.1:15002`. */
    sparkRemote: string
    /** Kafka bootstrap servers, e.g. `127.0.0.1:9092`. */
    kafkaBrokers: string
    /** PostgreSQL: host, port, user, password, database, `url` and `jdbcUrl` (provided when needed). */
    postgres: PostgresEndpoint
    /** The broker requiring SASL_SSL + SCRAM-SHA-512: brokers, CA file, user, password file (provided when needed). */
    kafkaSecure: SecureEndpoint
    /** HDFS's URI, e.g. `hdfs://127.0.0.1:40123` (provided when needed). */
    hdfsUri: string
    /**
     * Spark's version, e.g. `3.5.7` (provided with "spark"): as the server reports it, else as
     * requested (SPARK_ETL_SPARK_VERSION, default LocalServer.defaultSparkVersion).
     */
    sparkVersion: string
    /**
     * Where servers start, shared ones and a test's own (SPARK_ETL_TEST_INFRA, see Endpoints):
     * fault tests freeze and kill a container as they do a process.
     */
    infraPath: "containers" | "processes"
  }
}
