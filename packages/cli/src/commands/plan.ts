/**
 * `spark-etl plan`: the order in which a batch's rules run, as text or Mermaid; with `--resume`,
 * what a resumed run would skip and run, and why, without touching Spark.
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import { Dag, ExitCode } from "@spark-etl/core"
import * as ExitStatus from "../ExitStatus.js"
import * as ResumePreview from "../ResumePreview.js"
import { batchFile, kafkaBrokers, kafkaTopic, params, resume, siteConfig, stateDir } from "./flags.js"
import { loadThen, paramsOf, rejected, settingsOf, usage, withLoaded } from "./shared.js"

const format = Flag.Literals("format", ["text", "mermaid"]).pipe(
  Flag.withDescription("text (default) or mermaid"),
  Flag.withDefault("text")
)

const config = { batchFile, params, format, resume, siteConfig, stateDir, kafkaBrokers, kafkaTopic }

type Flags = Command.Command.Config.Infer<typeof config>

/** What a resume would do, from the ledger in the state dir: exit 0, or 3 as the run would refuse. */
const resumePlan = (flags: Flags, request: ResumePreview.Request): Effect.Effect<ExitCode> =>
  settingsOf(flags).pipe(
    Effect.flatMap((settings) =>
      loadThen(flags.batchFile, paramsOf(flags.params), settings.pluginPath, (batch) =>
        ResumePreview.preview(settings.ledgerDir, batch, request)
      )
    ),
    Effect.flatMap((shown) =>
      Effect.as(Console.log(ResumePreview.lines(shown).join("\n")), ExitCode.Success)
    ),
    Effect.catchTag("ConfigRejected", rejected),
    Effect.catchTag("ConfigError", usage)
  )

/** Exit 0 with the plan, 3 for a rejected batch or a refused resume (on stderr), 64 for --format mermaid with --resume. */
export const handler = (flags: Flags): Effect.Effect<ExitCode> =>
  Option.match(flags.resume, {
    onNone: () =>
      withLoaded(flags, (batch) =>
        flags.format === "mermaid" ? Dag.toMermaid(batch.plan) : Dag.toText(batch.plan)
      ),
    onSome: (request) =>
      flags.format === "mermaid"
        ? usage({ message: "--resume shows a resume as text: leave out --format mermaid" })
        : resumePlan(flags, request)
  })

export const command = Command.make("plan", config, ExitStatus.recorded(handler)).pipe(
  Command.withDescription(
    "show the order in which a batch's rules run (text or Mermaid); with --resume, what a resumed run would skip and run, and why"
  )
)
