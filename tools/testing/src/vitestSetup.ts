/**
 * Runs in every test worker. kafkajs 2.2.4 arms a negative timer on Node 24; its
 * TimeoutNegativeWarning says nothing about the code under test and buries real output in CI logs
 * (the CLI filters it the same way, for AutoSys' stderr).
 */
process.removeAllListeners("warning")
process.on("warning", (warning) => {
  if (warning.name !== "TimeoutNegativeWarning") process.stderr.write(`${warning.name}: ${warning.message}\n`)
})
