/**
 * kafkajs 2.2.4 arms a negative timer on Node 24, and Node warns `TimeoutNegativeWarning` for
 * it: a line about kafkajs, not about the process, that buries real output in CI and bench logs.
 * Every dev process that holds a kafkajs client (test workers, the infra tool) drops it and
 * keeps every other warning. The CLI does the same for AutoSys' stderr, in its own code.
 */
export const quietKafkajsTimerWarning = (): void => {
  process.removeAllListeners("warning")
  process.on("warning", (warning) => {
    if (warning.name !== "TimeoutNegativeWarning")
      process.stderr.write(`${warning.name}: ${warning.message}\n`)
  })
}
