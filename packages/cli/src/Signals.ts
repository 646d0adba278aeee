/**
 * SIGINT (AutoSys KILLJOB, Ctrl-C) and SIGTERM. The first signal asks the run to stop: running
 * Spark operations are interrupted, `batch.aborted` is published (or spooled), the ledger is
 * closed, and the process exits 130 / 143. A second signal, or a run still not done 3.5 seconds
 * later, exits at once with the same code: we promise 4 s (KILLJOB's SIGKILL follows after
 * about 5), and whatever is left to release then (a Kafka producer, a Spark session) is not
 * worth a SIGKILL.
 */
import * as Effect from "effect/Effect"
import { Failure, forSignal } from "@spark-etl/core"

type Signal = "SIGINT" | "SIGTERM"

let received: Signal | undefined
let receivedAt = 0
/** The run's own exit code, once it has said all it owes (see exitEarly). */
let settled: number | undefined
const waiting: Array<(signal: Signal) => void> = []

/** Budget between the first signal and a forced exit. */
const gracePeriodMs = 3500

/**
 * Events published after the signal must be delivered or spooled by this many ms after it, so
 * the ledger is closed and the summary written before the forced exit.
 */
const publishWithinMs = 2500

/**
 * How long the running rules may take to end after the signal, their interrupts on the Spark
 * server included; past it the run closes without them (and fences them, or records them
 * unfenced when Spark does not answer).
 */
export const stopGraceMs = 1500

/** A run's own fence after a signal must be done by this many ms after it. */
const fenceWithinMs = 2300

/** Milliseconds left for fencing this run's own work, once a signal came; undefined before. */
export const fenceBudgetMs = (): number | undefined =>
  received === undefined ? undefined : Math.max(100, receivedAt + fenceWithinMs - Date.now())

/** Milliseconds left for publishing an event, once a signal came; undefined before. */
export const publishBudgetMs = (): number | undefined =>
  received === undefined ? undefined : Math.max(100, receivedAt + publishWithinMs - Date.now())

const onSignal = (signal: Signal) => {
  // The run has ended and said so (summary, ledger, event): only the release of services is
  // left, and the signal must not turn a recorded outcome into another exit code.
  if (settled !== undefined) process.exit(settled)
  if (received !== undefined) process.exit(forSignal(received))
  received = signal
  receivedAt = Date.now()
  for (const resume of waiting.splice(0)) resume(signal)
  setTimeout(() => process.exit(forSignal(signal)), gracePeriodMs).unref()
}

/**
 * Exits now with the run's own code, once the run has said all it owes (ledger closed, event
 * delivered or spooled, summary written), when waiting for the services' release can only cost
 * time: after a signal, or when Spark did not answer the run's own fence (releasing its session
 * would wait on the same silence). A signal that comes after this point exits at once with the
 * run's code, not the signal's: the summary and the ledger already say how it ended.
 */
export const exitEarly = (unfenced: boolean, code: number): Effect.Effect<void> =>
  Effect.sync(() => {
    if (received !== undefined || unfenced) process.exit(code)
    settled = code
  })

/** Installs the handlers; call once, first thing in main. */
export const install = (): void => {
  process.on("SIGINT", () => onSignal("SIGINT"))
  process.on("SIGTERM", () => onSignal("SIGTERM"))
}

/** Completes with the interruption when the first signal arrives (at once if it already has). */
export const stop: Effect.Effect<Failure.Interrupted> = Effect.callback<Signal>((resume) => {
  if (received !== undefined) return resume(Effect.succeed(received))
  const listener = (signal: Signal) => resume(Effect.succeed(signal))
  waiting.push(listener)
  return Effect.sync(() => {
    const i = waiting.indexOf(listener)
    if (i >= 0) waiting.splice(i, 1)
  })
}).pipe(
  Effect.map(
    (signal) =>
      new Failure.Interrupted({
        signal,
        message: `stopped by ${signal}${signal === "SIGINT" ? " (AutoSys KILLJOB or Ctrl-C)" : ""}`
      })
  )
)
