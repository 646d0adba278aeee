/**
 * Rule checkpoints: for each rule whose output a run committed, a fingerprint of everything
 * that output depends on — the rule's definition (kind, options, target, and what its runner
 * adds: a SQL file's text), the batch parameters it uses, the engine settings, and the
 * fingerprints of its upstream rules — and where the output is.
 *
 * A run appends them to its journal `<ledger>/<batch>/<runId>.checkpoints.jsonl`, one line per
 * rule, fsync'd, once the rule succeeded (its write done, its expectations held): never before.
 * A line torn by a crash is the last one and is ignored; the checkpoint it was writing is simply
 * not there, and the rule runs again on resume. A resumed run writes the checkpoints it carries
 * over for the rules it skipped, so a resume of a resume finds them all.
 *
 * A secret parameter's value is not part of any fingerprint: it never reaches the disk, hashed
 * or not.
 */
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Option from "effect/Option"
import * as Path from "effect/Path"
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import type * as Batch from "./Batch.js"
import { LedgerError } from "./Errors.js"
import type * as Plugin from "./Plugin.js"

/** The hashes a fingerprint is made of, kept apart so a resume can say what changed. */
export const Parts = Schema.Struct({
  /** Kind, options, target and the runner's own definition text (a SQL file). */
  definition: Schema.String,
  /** The values of the parameters the rule uses. */
  parameters: Schema.String,
  /** The batch's engine settings. */
  settings: Schema.String
})
export type Parts = typeof Parts.Type

/** What a rule's output depends on: its parts and its upstream rules' fingerprints. */
export interface Fingerprint {
  readonly fingerprint: string
  readonly parts: Parts
}

/** One journal line. */
export const Checkpoint = Schema.Struct({
  ruleId: Schema.String,
  fingerprint: Schema.String,
  parts: Parts,
  /** Where the output is (`location` as the target store resolved it); absent for a view. */
  output: Schema.optionalKey(Schema.Struct({ store: Schema.String, location: Schema.String })),
  /** The run that wrote the output. */
  writtenBy: Schema.String,
  /** The runner's note (`Plugin.Committed`), given back to its `restore`. */
  note: Schema.optionalKey(Schema.Unknown),
  /** When the output was committed (ISO-8601). */
  at: Schema.String
})
export type Checkpoint = typeof Checkpoint.Type

const CheckpointJson = Schema.fromJsonString(Checkpoint)

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex")

/** JSON with object keys sorted at every level, so equal values hash equally. */
export const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    typeof v === "object" && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v
  )

/**
 * The fingerprint of every rule of `batch`, in plan order: each rule's parts, then its
 * upstream rules' fingerprints (which are computed first).
 */
export const ofBatch = (
  batch: Batch.Batch,
  registry: Plugin.Registry["Service"]
): Effect.Effect<ReadonlyMap<string, Fingerprint>, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const rules = new Map(batch.rules.map((r) => [r.id, r]))
    const settings = sha256(canonical(batch.engine.settings))
    const prints = new Map<string, Fingerprint>()
    for (const id of batch.plan.order) {
      const rule = rules.get(id)!
      const runner = registry.get(rule.kind)
      const definition = Option.isSome(runner)
        ? yield* runner.value.fingerprint({
            batchDir: batch.dir,
            rule: { id, kind: rule.kind, dependsOn: rule.dependsOn },
            options: rule.options,
            parameters: batch.parameterSpecs
          })
        : { text: "" }
      const used = definition.parameters ?? Object.keys(batch.parameterSpecs)
      const values = Object.fromEntries(
        [...new Set(used)].sort().map((name) => {
          const value = batch.parameters[name]
          return [name, value === undefined ? null : value.secret === true ? "(secret)" : value.text]
        })
      )
      const parts: Parts = {
        definition: sha256(
          canonical({
            kind: rule.kind,
            options: rule.options,
            target: rule.target?.location ?? null,
            text: definition.text
          })
        ),
        parameters: sha256(canonical(values)),
        settings
      }
      const upstream = [...rule.dependsOn].sort().map((d) => [d, prints.get(d)?.fingerprint ?? ""])
      prints.set(id, { fingerprint: sha256(canonical({ parts, upstream })), parts })
    }
    return prints
  })

/** The journal of a run. */
export const journalFile = (path: Path.Path, dir: string, batch: string, runId: string): string =>
  path.join(dir, batch, `${runId}.checkpoints.jsonl`)

/**
 * Appends checkpoints to a journal and fsyncs it: once this succeeded, they survive a crash.
 * Callers serialize their appends (the run does, through one semaphore).
 */
export const append = (
  file: string,
  checkpoints: ReadonlyArray<Checkpoint>
): Effect.Effect<void, LedgerError, FileSystem.FileSystem> =>
  Effect.scoped(
    Effect.gen(function* () {
      if (checkpoints.length === 0) return
      const fs = yield* FileSystem.FileSystem
      const handle = yield* fs.open(file, { flag: "a", mode: 0o600 })
      yield* handle.writeAll(
        new TextEncoder().encode(checkpoints.map((c) => `${JSON.stringify(c)}\n`).join(""))
      )
      yield* handle.sync
    })
  ).pipe(Effect.mapError((e) => new LedgerError({ path: file, message: e.message })))

/**
 * A run's checkpoints by rule (the last line of a rule wins). No journal: none. A last line
 * without its newline was torn by a crash and is ignored; any other unreadable line makes the
 * journal untrustworthy, and it fails.
 */
export const read = (
  file: string
): Effect.Effect<ReadonlyMap<string, Checkpoint>, LedgerError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const found = new Map<string, Checkpoint>()
    if (!(yield* fs.exists(file))) return found
    const text = yield* fs.readFileString(file)
    const lines = text.split("\n")
    // The text after the last newline is a line still being (or torn while being) written.
    lines.pop()
    for (const [i, line] of lines.entries()) {
      const decoded = yield* Schema.decodeUnknownEffect(CheckpointJson)(line).pipe(
        Effect.mapError((e) => new LedgerError({ path: file, message: `line ${i + 1}: ${e.message}` }))
      )
      found.set(decoded.ruleId, decoded)
    }
    return found
  }).pipe(
    Effect.mapError((e) =>
      e._tag === "LedgerError" ? e : new LedgerError({ path: file, message: e.message })
    )
  )
