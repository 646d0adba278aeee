/**
 * File primitives for packages that keep state on disk beside the ledger (the Kafka outbox):
 * one cross-process lock and one durable atomic write, so every package gets the same
 * guarantees. Not part of the batch model; imported as `@spark-etl/core/fs`. Their errors are
 * `Errors.FileLockError`, `Errors.LockBusy` and `Errors.AtomicFileError` of `@spark-etl/core`.
 */
export * as AtomicFile from "./fs/AtomicFile.js"
export * as FileLock from "./fs/FileLock.js"
