/**
 * The process exit codes of spark-etl: the contract with the scheduler (AutoSys judges a job
 * by its exit code) and with L2, who read docs/operations.md by the same table.
 */

export const ExitCode = {
  /** Every rule succeeded. */
  Success: 0,
  /** A rule failed in a way the batch captured: bad SQL, data error, failed expectation, write. */
  BatchFailed: 1,
  /** The platform failed: Spark unreachable or lost, deadline exceeded, an unknown defect. */
  SystemFailure: 2,
  /** Refused before any side effect: invalid batch, unsafe target, another run holds the batch. */
  Rejected: 3,
  /** The command line itself was wrong. */
  Usage: 64,
  /** Stopped by SIGINT (AutoSys KILLJOB, Ctrl-C): 128 + 2. */
  Interrupted: 130,
  /** Stopped by SIGTERM: 128 + 15. */
  Terminated: 143
} as const

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/** Whether an operator may simply rerun the job without a code or config change. */
export const restartMayHelp = (code: ExitCode): boolean =>
  code === ExitCode.SystemFailure || code === ExitCode.Interrupted || code === ExitCode.Terminated

/** The exit code for a process ended by a signal, as a shell reports it. */
export const forSignal = (signal: "SIGINT" | "SIGTERM"): ExitCode =>
  signal === "SIGINT" ? ExitCode.Interrupted : ExitCode.Terminated
