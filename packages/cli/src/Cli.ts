/**
 * The `spark-etl` command line, assembled from one module per command (`src/commands/`). Each
 * handler ends with the process exit code of the contract table (core's ExitCode), recorded in
 * ExitStatus for program.ts.
 */
import type * as NodeServices from "@effect/platform-node/NodeServices"
import * as Command from "effect/cli/Command"
import type * as ExitStatus from "./ExitStatus.js"
import * as Config from "./commands/config.js"
import * as Events from "./commands/events.js"
import * as Outbox from "./commands/outbox.js"
import * as Plan from "./commands/plan.js"
import * as Run from "./commands/run.js"
import * as Status from "./commands/status.js"
import * as Validate from "./commands/validate.js"

type NoInput = Record<never, never>

/** Typed out: every handler settles its own errors into an exit code (E = never). */
export const command: Command.Command<
  "spark-etl",
  NoInput,
  NoInput,
  never,
  NodeServices.NodeServices | ExitStatus.ExitStatus
> = Command.make("spark-etl").pipe(
  Command.withDescription("Run batches of SQL ETL rules on Apache Spark over Spark Connect."),
  Command.withSubcommands([
    Run.command,
    Validate.command,
    Plan.command,
    Status.command,
    Outbox.command,
    Events.command,
    Config.command
  ])
)
