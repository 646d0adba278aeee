/**
 * File primitives for packages that keep state on disk beside the ledger (the Kafka outbox):
 * one cross-process lock and one durable atomic write, so every package gets the same
 * guarantees. Not part of the batch model; imported as `@spark-etl/core/fs`.
 */
export * as AtomicFile from "./internal/atomicFile.js"
export * as FileLock from "./internal/fileLock.js"
