/** `spark-etl validate`: checks a batch file without touching anything. */
import type { Batch } from "@spark-etl/core"
import * as Command from "effect/cli/Command"
import * as ExitStatus from "../ExitStatus.js"
import { batchFile, kafkaBrokers, kafkaTopic, params, siteConfig, stateDir } from "./flags.js"
import { withLoaded } from "./shared.js"

/** What `validate` prints for a valid batch. */
const validText = (batch: Batch.Batch): string =>
  `${batch.file}: batch ${batch.name} is valid (${batch.rules.length} rules, ${batch.targets.targets.length} targets)`

const config = { batchFile, params, siteConfig, stateDir, kafkaBrokers, kafkaTopic }

/** Exit 0 for a valid batch, 3 for a rejected one (its issues on stderr). */
export const handler = (flags: Command.Command.Config.Infer<typeof config>) => withLoaded(flags, validText)

export const command = Command.make("validate", config, ExitStatus.recorded(handler)).pipe(
  Command.withDescription(
    "check a batch file without touching anything: schema, parameters, rules, DAG, targets"
  )
)
