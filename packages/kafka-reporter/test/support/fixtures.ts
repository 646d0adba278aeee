// Events as core mints them, and the check every produced record must pass: a structured
// CloudEvent whose data validates against the committed JSON Schema of its type (ajv).
import type { Event } from "@spark-etl/core"
import { Ajv2020 } from "ajv/dist/2020.js"
import addFormats from "ajv-formats"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as CloudEvent from "../../src/CloudEvent.js"
import { schemaDir } from "./schemaDir.js"

/** A batch-level event; override any field. */
export const batchEvent = (overrides: Partial<Event.Event> = {}): Event.Event => ({
  id: randomUUID(),
  type: "batch.started",
  time: new Date().toISOString(),
  batch: "daily_sales",
  runId: randomUUID(),
  host: "etl-host-1",
  pid: 4242,
  parameters: { run_date: "2026-11-26" },
  ...overrides
})

/** A rule failure as core reports it. */
export const ruleFailed = (overrides: Partial<Event.Event> = {}): Event.Event =>
  batchEvent({
    type: "rule.failed",
    ruleId: "load_orders",
    ruleKind: "sql",
    attempt: 1,
    durationMs: 1234,
    logFile: "/var/log/spark-etl/daily_sales.json",
    failure: {
      category: "capturable",
      code: "UNRESOLVED_COLUMN.WITH_SUGGESTION",
      sqlState: "42703",
      message: "A column with name `amount` cannot be resolved.",
      engineDetail: "org.apache.spark.sql.AnalysisException: ...",
      restartMayHelp: false
    },
    ...overrides
  })

const ajv = new Ajv2020({ allErrors: true, strict: true })
addFormats.default(ajv)
// Compiled on first use, so the schema-files test can (re)generate them first.
let validators: ReadonlyMap<string, ReturnType<typeof ajv.compile>> | undefined
const load = () =>
  new Map(
    CloudEvent.eventTypes.map((type) => [
      CloudEvent.ceType(type),
      ajv.compile(JSON.parse(fs.readFileSync(path.join(schemaDir, `${type}.json`), "utf8")) as object)
    ])
  )

/** Problems of one Kafka record value (empty when it is a valid spark-etl CloudEvent). */
export const problems = (value: string): ReadonlyArray<string> => {
  const envelope = JSON.parse(value) as Record<string, unknown>
  const out: Array<string> = []
  if (envelope["specversion"] !== "1.0") out.push("specversion is not 1.0")
  if (envelope["datacontenttype"] !== "application/json") out.push("datacontenttype is not application/json")
  for (const key of ["id", "source", "subject", "time", "dataschema"]) {
    if (typeof envelope[key] !== "string" || envelope[key] === "") out.push(`${key} missing`)
  }
  validators ??= load()
  const validate = validators.get(String(envelope["type"]))
  if (validate === undefined) return [...out, `unknown type ${String(envelope["type"])}`]
  if (!validate(envelope["data"]))
    out.push(...(validate.errors ?? []).map((e) => `data${e.instancePath} ${e.message}`))
  return out
}
