/**
 * `spark-etl status`: the latest runs of a batch from the run ledger. First it settles what the
 * batch's next run would: a run found crashed is fenced, reported and its batch freed; an
 * unfenced one is fenced; a recorded terminal event never sent is sent (with Kafka). `--rules`
 * adds each rule of the newest runs, with whether its checkpoint would let a resume skip it.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import { Event, ExitCode, Ledger, Run } from "@spark-etl/core"
import * as os from "node:os"
import * as ExitStatus from "../ExitStatus.js"
import * as Logging from "../Logging.js"
import * as RuleStatus from "../RuleStatus.js"
import type * as Settings from "../Settings.js"
import { kafkaBrokers, kafkaTopic, remote, siteConfig, sparkTimeout, stateDir } from "./flags.js"
import { checkRemote, fencing, rejected, runServices, settingsOf, usage } from "./shared.js"

/** How many runs status shows, newest first. */
const shown = 10

/** One run as status shows it. */
export const recordLine = (r: Ledger.Record): string => {
  const failed = r.outcome?.ruleId ? ` rule=${r.outcome.ruleId}` : ""
  const code = r.outcome?.failure ? ` code=${r.outcome.failure.code}` : ""
  const exit = r.outcome ? ` exit=${r.outcome.exitCode}` : ""
  const resumed = r.resumedFrom !== undefined ? ` resumed=${r.resumedFrom}` : ""
  const unfenced = r.unfenced === true ? " UNFENCED" : ""
  return `${r.startedAt}  ${r.status.padEnd(9)} run=${r.runId} pid=${r.pid}@${r.host}${exit}${failed}${code}${resumed}${unfenced} heartbeat=${r.heartbeatAt}`
}

/** What status prints for the ledger's records of `batch` (newest first). */
export const recordLines = (batch: string, ledgerDir: string, records: ReadonlyArray<Ledger.Record>) =>
  records.length === 0 ? [`no runs of ${batch} in ${ledgerDir}`] : records.slice(0, shown).map(recordLine)

/** What status says of a run it found crashed and reaped. */
export const crashedLine = (p: Ledger.Record): string =>
  `run ${p.runId} (pid ${p.pid} on ${p.host}) had crashed: fenced, batch.crashed reported, batch freed`

/** What status says of the earlier runs it settled. */
export const settledLines = (settled: Ledger.Settled): ReadonlyArray<string> => [
  ...settled.republished.map(
    (r) => `run ${r.runId}: its recorded ${r.terminalEvent?.type ?? "terminal event"} sent`
  ),
  ...settled.fenced.map((r) => `run ${r.runId} had ended unfenced: its Spark session is fenced now`)
]

/**
 * A run that died without a word (SIGKILL, a host crash) holds its batch with a stale heartbeat:
 * fence its Spark session, report batch.crashed, mark it crashed, free the batch — what the
 * next run would do first. Says what it did, if anything.
 */
const reapStale = (settings: Settings.Resolved, batch: string, timeout: Duration.Duration) =>
  Effect.gen(function* () {
    const [Layers, Fence] = yield* Effect.all([runServices, fencing])
    return yield* reapWith(Fence, settings, batch, timeout).pipe(Effect.provide(Layers.eventSink(settings)))
  })

const reapWith = (
  Fence: Effect.Success<typeof fencing>,
  settings: Settings.Resolved,
  batch: string,
  timeout: Duration.Duration
) =>
  Effect.gen(function* () {
    const sink = yield* Event.EventSink
    const found = yield* Ledger.reap({
      dir: settings.ledgerDir,
      batch,
      host: os.hostname(),
      fence: Fence.predecessor(settings.remote, timeout),
      report: Run.reportCrashed(sink)
    }).pipe(Effect.ensuring(sink.flush))
    if (found._tag === "Reaped" && Option.isSome(found.crashed))
      yield* Console.log(crashedLine(found.crashed.value))
    // A live run settles earlier runs itself; a free batch is settled here, as its next run would.
    if (found._tag === "Held") return
    // An unsent terminal event is sent only where Kafka is configured; else the next run does.
    const settled = yield* Ledger.settle({
      dir: settings.ledgerDir,
      batch,
      fence: Fence.predecessor(settings.remote, timeout),
      ...(Option.isSome(settings.kafka) ? { republish: sink.publish } : {})
    }).pipe(Effect.ensuring(sink.flush))
    for (const line of settledLines(settled)) yield* Console.log(line)
  })

const batchName = Argument.String("batch").pipe(
  Argument.withDescription("the batch name (as in the batch file)")
)

const rules = Flag.Boolean("rules").pipe(
  Flag.withDescription(
    `also each rule of the ${RuleStatus.shownRuns} newest runs: state, attempts, start, time, whether its checkpoint is still valid, and why it ran or failed`
  ),
  Flag.withDefault(false)
)

const config = { batchName, rules, siteConfig, stateDir, remote, kafkaBrokers, kafkaTopic, sparkTimeout }

/** The newest runs, each with its rules table, a blank line between them. */
const withRules = (settings: Settings.Resolved, records: ReadonlyArray<Ledger.Record>) =>
  Effect.gen(function* () {
    const newest = records.slice(0, RuleStatus.shownRuns)
    const judged = yield* RuleStatus.judge(settings.ledgerDir, newest, settings.pluginPath)
    const blocks: Array<string> = []
    for (const [i, record] of newest.entries())
      blocks.push([recordLine(record), ...(yield* RuleStatus.ruleLines(record, judged[i]!))].join("\n"))
    return blocks.join("\n\n")
  })

/** Exit 0 once shown; 3 for a malformed remote or site config, 2 when the ledger or a fence fails, 64 for bad Kafka settings. */
export const handler = (flags: Command.Command.Config.Infer<typeof config>): Effect.Effect<ExitCode> =>
  Effect.gen(function* () {
    const settings = yield* settingsOf(flags)
    yield* checkRemote(settings)
    yield* reapStale(settings, flags.batchName, Duration.min(settings.sparkTimeout, Duration.seconds(10)))
    const records = yield* Ledger.list(settings.ledgerDir, flags.batchName)
    if (flags.rules && records.length > 0) yield* Console.log(yield* withRules(settings, records))
    else
      for (const line of recordLines(flags.batchName, settings.ledgerDir, records)) yield* Console.log(line)
    return ExitCode.Success
  }).pipe(
    Effect.provide(Logging.quiet),
    Effect.provide(NodeServices.layer),
    Effect.catchTag("ConfigRejected", rejected),
    Effect.catchTag("LedgerError", (e) =>
      Effect.as(Console.error(`cannot read the run ledger: ${e.message}`), ExitCode.SystemFailure)
    ),
    Effect.catchTag("EngineUnreachable", (e) => Effect.as(Console.error(e.message), ExitCode.SystemFailure)),
    Effect.catchTag("ConfigError", usage)
  )

export const command = Command.make("status", config, ExitStatus.recorded(handler)).pipe(
  Command.withDescription(
    "show the latest runs of a batch from the run ledger (with --rules, each rule and its checkpoint); a run found crashed is fenced, reported and its batch freed"
  )
)
