/**
 * The public face of `internal/fileLock.ts` (see there for how a lock is taken and broken):
 * what a package needs to hold a lock. The steps it is made of stay with core's ledger.
 */
export {
  acquire,
  describe,
  withLock,
  type AcquireOptions,
  type Holder,
  type Lock,
  type LockOptions,
  type Owner,
  type Seen,
  type StaleOptions
} from "../internal/fileLock.js"
