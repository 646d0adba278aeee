/** `spark-etl plan`: the order in which a batch's rules run, as text or Mermaid. */
import { Dag } from "@spark-etl/core"
import { Command, Flag } from "effect/cli"
import * as ExitStatus from "../ExitStatus.js"
import { batchFile, kafkaBrokers, kafkaTopic, params, stateDir } from "./flags.js"
import { withLoaded } from "./shared.js"

const format = Flag.Literals("format", ["text", "mermaid"]).pipe(
  Flag.withDescription("text (default) or mermaid"),
  Flag.withDefault("text")
)

const config = { batchFile, params, format, stateDir, kafkaBrokers, kafkaTopic }

/** Exit 0 with the plan, 3 for a rejected batch (its issues on stderr). */
export const handler = (flags: Command.Command.Config.Infer<typeof config>) =>
  withLoaded(flags, (batch) =>
    flags.format === "mermaid" ? Dag.toMermaid(batch.plan) : Dag.toText(batch.plan)
  )

export const command = Command.make("plan", config, ExitStatus.recorded(handler)).pipe(
  Command.withDescription("show the order in which a batch's rules run (text or Mermaid)")
)
