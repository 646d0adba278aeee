/** Public API of @spark-etl/kafka-reporter; each concept is a namespace. */
export * as CloudEvent from "./CloudEvent.js"
export * as KafkaReporter from "./KafkaReporter.js"
export * as ReporterConfig from "./ReporterConfig.js"
export * as ReporterError from "./ReporterError.js"
export * as Topic from "./Topic.js"
