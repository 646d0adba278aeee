/** What the infra global setup hands to tests through vitest's `inject`. */
declare module "vitest" {
  export interface ProvidedContext {
    /** Which servers this package's tests need; set in its vitest config. */
    infraNeeds: ReadonlyArray<"spark" | "kafka">
    /** Spark Connect connection string, e.g. `sc://127.0.0.1:15002`. */
    sparkRemote: string
    /** Kafka bootstrap servers, e.g. `127.0.0.1:9092`. */
    kafkaBrokers: string
  }
}
