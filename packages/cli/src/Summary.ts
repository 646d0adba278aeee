/**
 * What the operator reads: a per-rule table on stderr and one final line on stdout, the last
 * line of AutoSys' std_out_file, carrying outcome, failed rule, code, run id, where any event
 * Kafka did not take is (`events=…`), for a resumed run the run it resumed and how many rules
 * it skipped (`resumed=… skipped=N`), and the log path.
 */
import { type Event, Run } from "@spark-etl/core"

const words: Record<Run.Outcome["status"], string> = {
  succeeded: "SUCCEEDED",
  failed: "FAILED",
  aborted: "ABORTED",
  rejected: "REJECTED"
}

const seconds = (ms: number | undefined) => (ms === undefined ? "" : `${(ms / 1000).toFixed(1)}s`)

/** The one-line summary (no newline). */
export const line = (outcome: Run.Outcome, logFile: string): string => {
  const f = outcome.failure
  return [
    `spark-etl ${words[outcome.status]}`,
    `batch=${outcome.batch}`,
    `run=${outcome.runId}`,
    `exit=${outcome.exitCode}`,
    ...(f ? [`category=${f.category}`] : []),
    ...(f?.ruleId ? [`rule=${f.ruleId}`] : []),
    ...(f ? [`code=${f.code}`] : []),
    ...(f && outcome.phase ? [`phase=${outcome.phase}`] : []),
    // Whether yesterday's outputs are still in place: what L2 needs before deciding to wait.
    ...(f && f.category !== "rejected"
      ? [`targets=${outcome.targetsTouched ? "touched" : "untouched"}`]
      : []),
    ...(outcome.unfenced ? ["unfenced=true"] : []),
    // A resumed run: which run's checkpoints it trusted, and how many rules it skipped on them.
    ...(outcome.resumed
      ? [`resumed=${outcome.resumed.from}`, `skipped=${outcome.resumed.skipped.length}`]
      : []),
    ...(outcome.report ? [`duration=${seconds(outcome.report.durationMs)}`] : []),
    ...undelivered(outcome.undelivered),
    `log=${logFile}`
  ].join(" ")
}

/**
 * Where the events Kafka did not take are, when there are any: waiting in the outbox (the next
 * run or `spark-etl outbox flush` delivers them), or only on stderr (`spark-etl-event ` lines)
 * or in the log. Never claims a place an event is not in.
 */
const undelivered = (u: Event.Undelivered | undefined): ReadonlyArray<string> => {
  if (u === undefined) return []
  const places = [
    ...(u.spooled > 0 ? [`${u.spooled} in outbox ${u.outbox ?? "(unknown)"}`] : []),
    ...(u.onStderr > 0 ? [`${u.onStderr} on stderr, not spooled`] : []),
    ...(u.logOnly > 0 ? [`${u.logOnly} in the log only, not spooled`] : [])
  ]
  return places.length === 0 ? [] : [`events=${places.join(", ")}`]
}

/**
 * The rules table (empty when no rule ran): each rule's state, time, attempts when it was
 * retried, and its failure. A resumed run's table starts by naming the run it resumed.
 */
export const table = (outcome: Run.Outcome): string => {
  const rules = outcome.report?.rules ?? []
  if (rules.length === 0) return ""
  const width = Math.max(4, ...rules.map((r) => r.id.length))
  const rows = rules.map(
    (r) =>
      `  ${r.id.padEnd(width)}  ${r.state.padEnd(11)}  ${seconds(r.durationMs).padStart(7)}${r.attempt > 1 ? `  after ${r.attempt} attempts` : ""}${r.failure ? `  [${r.failure.code}] ${r.failure.message.split("\n")[0]}` : ""}`
  )
  const resumed = outcome.resumed
    ? [`resumed from ${outcome.resumed.from} (${outcome.resumed.skipped.length} skipped)`]
    : []
  return [
    ...resumed,
    `  ${"rule".padEnd(width)}  ${"state".padEnd(11)}  ${"time".padStart(7)}`,
    ...rows
  ].join("\n")
}
