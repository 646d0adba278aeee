// One home: Failure.ts is the taxonomy a batch ends with (users see it); every other core error is here.
import * as Data from "effect/Data"
import type * as Option from "effect/Option"
import type { Holder } from "./internal/fileLock.js"

/** The run ledger could not be read or written. */
export class LedgerError extends Data.TaggedError("LedgerError")<{
  readonly path: string
  readonly message: string
}> {}

/** A file could not be written, renamed, removed or synced (`AtomicFile`). */
export class AtomicFileError extends Data.TaggedError("AtomicFileError")<{
  readonly path: string
  readonly message: string
}> {}

/** A lock file could not be created, read, renamed or removed (`FileLock`). */
export class FileLockError extends Data.TaggedError("FileLockError")<{
  readonly path: string
  readonly message: string
}> {}

/** Someone else held the lock for as long as the caller would wait (`FileLock.acquire`). */
export class LockBusy extends Data.TaggedError("LockBusy")<{
  readonly path: string
  readonly holder: Option.Option<Holder>
  readonly message: string
}> {}

/** A check of the conformance kit (`@spark-etl/core/testing`) failed; `check` names it. */
export class ConformanceError extends Data.TaggedError("ConformanceError")<{
  readonly check: string
  readonly message: string
}> {}
