/**
 * The `spark-etl` command. Parses the command line, runs the command, and exits with the code
 * of the contract table; a command line it cannot parse exits 64 after saying why.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Command from "effect/cli/Command"
import { ExitCode } from "@spark-etl/core"
import * as Cli from "./Cli.js"
import * as ExitStatus from "./ExitStatus.js"
import * as Signals from "./Signals.js"
import { resumeHint } from "./commands/flags.js"

Signals.install()

// kafkajs 2.2.4 sets a negative timer on current Node; the warning is noise in AutoSys' stderr.
process.removeAllListeners("warning")
process.on("warning", (warning) => {
  if (warning.name !== "TimeoutNegativeWarning") process.stderr.write(`${warning.name}: ${warning.message}\n`)
})

// The handler's exit code; none when effect/cli answered without one.
const program = Effect.andThen(
  Command.runWith(Cli.command, { version: "0.1.0" })(process.argv.slice(2)),
  ExitStatus.get
).pipe(Effect.scoped, Effect.provide(ExitStatus.layer), Effect.provide(NodeServices.layer))

// Help, version and completions are answered by effect/cli itself, without a handler.
const informational = process.argv
  .slice(2)
  .some((a) => ["--help", "-h", "--version", "-v", "--completions"].includes(a))

const exit = await Effect.runPromiseExit(program)
// The handler's code; with none (and no --help / --version), effect/cli refused the line: 64.
if (Exit.isSuccess(exit))
  process.exit(informational ? ExitCode.Success : Option.getOrElse(exit.value, () => ExitCode.Usage))
const usage = Cause.findErrorOption(exit.cause)
if (
  usage._tag === "Some" &&
  typeof usage.value === "object" &&
  usage.value !== null &&
  "_tag" in usage.value
) {
  // effect/cli has already printed the problem and the help; ShowHelp is a successful --help.
  // A ShowHelp that carries errors is a parse failure shown with the help text.
  const helpOnly =
    usage.value._tag === "ShowHelp" &&
    "errors" in usage.value &&
    Array.isArray(usage.value.errors) &&
    usage.value.errors.length === 0
  const hint = resumeHint(process.argv.slice(2))
  if (!helpOnly && Option.isSome(hint)) process.stderr.write(`${hint.value}\n`)
  process.exit(helpOnly ? ExitCode.Success : ExitCode.Usage)
}
process.stderr.write(`spark-etl: unexpected failure\n${Cause.pretty(exit.cause)}\n`)
process.exit(ExitCode.SystemFailure)
