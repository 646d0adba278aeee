/**
 * The batch file: YAML read (source positions are found only for what is reported), validated
 * with Effect Schema, then checked as a whole (parameters, rule graph, rule kinds and their
 * options, target safety). Every problem of the file is reported together, each as
 * `file:line:column: field: message`, in one `ConfigRejected`. The format is described in
 * docs/batch-file.md.
 */
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Option from "effect/Option"
import * as Path from "effect/Path"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Yaml from "yaml"
import * as Dag from "./Dag.js"
import * as Failure from "./Failure.js"
import * as Parameter from "./Parameter.js"
import * as Plugin from "./Plugin.js"
import * as Retry from "./Retry.js"
import * as TargetStore from "./TargetStore.js"
import * as Text from "./Text.js"
import * as Issues from "./internal/issues.js"
import * as Source from "./internal/source.js"
import * as FastYaml from "./internal/fastYaml.js"

const Name = Schema.String.check(
  Schema.isPattern(/^[A-Za-z][A-Za-z0-9_.-]{0,127}$/, {
    message: "expected a name of letters, digits, '_', '.' or '-', starting with a letter (at most 128)"
  })
)

/** One rule as written in the batch file. */
export const RuleFile = Schema.Struct({
  id: Name,
  kind: Schema.String,
  description: Schema.optionalKey(Schema.String),
  depends_on: Schema.optionalKey(Schema.Array(Schema.String)),
  /** Where the rule writes; cleaned before the batch. Relative paths start at the batch file. */
  target: Schema.optionalKey(Schema.NonEmptyString),
  /** Kind-specific options, validated by the kind's runner. */
  options: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown)),
  /** Which failures of this rule are retried, how often and after what delay (see Retry). */
  retry: Schema.optionalKey(Retry.Spec)
})

/** When a run resumes from a failed predecessor's checkpoints (see Resume). */
export const ResumePolicy = Schema.Literals(["never", "on_request", "auto"])
export type ResumePolicy = typeof ResumePolicy.Type

/** The batch file's schema (YAML keys are snake_case). */
/** An npm package name (scoped or not), as a batch file names a plugin package. */
const PackageName = Schema.String.check(
  Schema.isPattern(/^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/, {
    message: "an npm package name, e.g. @acme/spark-etl-runner-foo"
  }),
  Schema.isMaxLength(214)
)

export const BatchFile = Schema.Struct({
  batch: Name,
  description: Schema.optionalKey(Schema.String),
  /** Plugin packages whose rule kinds the batch uses, besides the built-in ones. */
  plugins: Schema.optionalKey(Schema.Array(PackageName)),
  /** `on_request` (the default): `run --resume` resumes; `auto`: every run resumes when it can. */
  resume: Schema.optionalKey(ResumePolicy),
  parameters: Schema.optionalKey(Schema.Record(Schema.String, Parameter.Spec)),
  engine: Schema.optionalKey(
    Schema.Struct({
      /** How many rules may run at once; 1 (the default) runs them one by one. */
      parallelism: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))),
      /** Deadline of each rule; past it the rule fails as a system failure. */
      rule_timeout_seconds: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))),
      /** Engine session settings (e.g. `spark.sql.shuffle.partitions`). */
      settings: Schema.optionalKey(
        Schema.Record(Schema.String, Schema.Union([Schema.String, Schema.Number, Schema.Boolean]))
      )
    })
  ),
  targets: Schema.optionalKey(
    Schema.Struct({
      store: Schema.optionalKey(Schema.String),
      roots: Schema.NonEmptyArray(Schema.NonEmptyString)
    })
  ),
  escalation: Schema.optionalKey(
    Schema.Struct({
      /** A Kafka topic name: what the broker accepts (letters, digits, '.', '_', '-'; at most 249). */
      topic: Schema.optionalKey(
        Schema.String.check(
          Schema.isPattern(/^[A-Za-z0-9._-]{1,249}$/, {
            message: "a Kafka topic name: letters, digits, '.', '_' and '-', at most 249 characters"
          })
        )
      ),
      labels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
    })
  ),
  rules: Schema.Array(RuleFile).check(Schema.isMinLength(1, { message: "a batch needs at least one rule" }))
})
export type BatchFile = typeof BatchFile.Type

/** A rule of a loaded batch. */
export interface Rule {
  readonly id: string
  readonly kind: string
  readonly description?: string
  readonly dependsOn: ReadonlyArray<string>
  readonly target?: TargetStore.Target
  /** Raw options; the kind's runner decodes them. */
  readonly options: unknown
  /** Its retry flags (absent: a failure fails the batch at once). */
  readonly retry?: Retry.Policy
  /** 1-based line of the rule in the batch file. */
  readonly line: number
}

/** A loaded, fully validated batch. */
export interface Batch {
  readonly name: string
  readonly description?: string
  /** Absolute path of the batch file. */
  readonly file: string
  readonly dir: string
  readonly parameters: Parameter.Values
  readonly parameterSpecs: Readonly<Record<string, Parameter.Spec>>
  readonly engine: {
    readonly parallelism: number
    readonly ruleTimeoutSeconds?: number
    readonly settings: Readonly<Record<string, string>>
  }
  readonly targets: TargetStore.Resolved
  /** Name of the store that checked the targets and will clean them. */
  readonly targetStore: string
  readonly escalation: { readonly topic?: string; readonly labels: Readonly<Record<string, string>> }
  /** When a run resumes (`resume:`; default `on_request`). */
  readonly resume: ResumePolicy
  readonly rules: ReadonlyArray<Rule>
  readonly plan: Dag.Plan
}

/** Where parameter values come from, besides the file's defaults. */
export interface LoadOptions {
  /** `--param name=value` pairs from the command line. */
  readonly params?: Readonly<Record<string, string>>
  /** The environment, read for parameters that declare `env`. */
  readonly env?: Readonly<Record<string, string | undefined>>
}

/** What loading needs: files, the runners, the target store. */
export type Requirements = FileSystem.FileSystem | Path.Path | Plugin.Registry | TargetStore.TargetStore

/** Reads, parses and validates a batch file. */
export const load = (
  file: string,
  options: LoadOptions = {}
): Effect.Effect<Batch, Failure.ConfigRejected, Requirements> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const absolute = path.resolve(file)
    const bytes = yield* fs
      .readFile(absolute)
      .pipe(
        Effect.mapError((e) =>
          Failure.rejected([
            { file, line: 1, column: 1, field: "(file)", message: `cannot read batch file: ${e.message}` }
          ])
        )
      )
    const text = Text.decodeUtf8(bytes)
    if (Result.isFailure(text)) {
      const { line, column, message } = text.failure
      return yield* Effect.fail(Failure.rejected([{ file, line, column, field: "(file)", message }]))
    }
    return yield* parse(text.success.replace(/^\uFEFF/, ""), absolute, options)
  })

/** What a file says of its batch without being validated (see {@link peek}). */
export interface Peek {
  /** The batch's name, when the file names one. */
  readonly name: Option.Option<string>
  /**
   * The given parameters as a run that could not load the batch may show them: a value is
   * masked when the file declares its parameter secret or its name looks like a credential.
   */
  readonly parameters: Record<string, string>
  /**
   * The plugin packages the file names (`plugins:`), the strings among them: they are loaded
   * before the batch is, since the kinds of its rules may come from them.
   */
  readonly plugins: ReadonlyArray<string>
}

/**
 * Reads what a run refused before its batch loaded still owes the operator — the batch's name
 * and parameters it may show — from the file, as far as it can be read, validating nothing
 * else. A rejected run must not print what it refused to take.
 */
export const peek = (
  file: string,
  given: Readonly<Record<string, string>> = {}
): Effect.Effect<Peek, never, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* Effect.option(fs.readFileString(file))
    // The fast reader when the text is in its subset (the same value), else `yaml`.
    const doc: unknown = Option.isSome(text)
      ? (FastYaml.read(text.value)?.value ??
        Yaml.parseDocument(text.value, { prettyErrors: false, logLevel: Source.logLevel }).toJS())
      : undefined
    const top = typeof doc === "object" && doc !== null ? (doc as Record<string, unknown>) : {}
    const specs =
      typeof top["parameters"] === "object" && top["parameters"] !== null
        ? (top["parameters"] as Record<string, unknown>)
        : {}
    const plugins = Array.isArray(top["plugins"])
      ? top["plugins"].filter((p): p is string => typeof p === "string")
      : []
    return { name: nameIn(top), parameters: mask(given, specs), plugins }
  }).pipe(
    Effect.catchCause(() =>
      Effect.succeed({ name: Option.none<string>(), parameters: mask(given, {}), plugins: [] })
    )
  )

/**
 * An issue about a place in a batch file found outside the loader (a plugin package that cannot
 * be loaded), at that place's line and column: `path` as in the file, e.g. `["plugins", 0]`.
 */
export const issueAt = (
  file: string,
  path: ReadonlyArray<string | number>,
  message: string
): Effect.Effect<Failure.ConfigIssue, never, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(file)
    const source = Source.read(text, file)
    const at = Result.isSuccess(source) ? source.success.position(path) : { line: 1, column: 1 }
    return { file, ...at, field: Issues.pathToField(path), message }
  }).pipe(
    Effect.catchCause(() =>
      Effect.succeed({ file, line: 1, column: 1, field: Issues.pathToField(path), message })
    )
  )

const nameIn = (top: Record<string, unknown>): Option.Option<string> => {
  const name = top["batch"]
  return typeof name === "string" && name.trim() !== "" ? Option.some(name) : Option.none()
}

const mask = (
  given: Readonly<Record<string, string>>,
  specs: Record<string, unknown>
): Record<string, string> =>
  Object.fromEntries(
    Object.entries(given).map(([name, value]) => {
      const spec = specs[name]
      const flag =
        typeof spec === "object" && spec !== null ? (spec as { secret?: unknown }).secret : undefined
      const secret = flag === true || (flag !== false && Parameter.looksSecret(name))
      return [name, secret ? Parameter.masked : value]
    })
  )

/** Parses and validates batch text as if read from `file` (an absolute path). */
export const parse = (
  text: string,
  file: string,
  options: LoadOptions = {}
): Effect.Effect<Batch, Failure.ConfigRejected, Requirements> =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const source = Source.read(text, file)
    if (Result.isFailure(source)) return yield* Effect.fail(Failure.rejected(source.failure))
    const { value: raw, position, line } = source.success
    const issueAt = (
      p: ReadonlyArray<string | number>,
      message: string,
      atKey = false
    ): Failure.ConfigIssue => ({
      file,
      ...position(p, atKey),
      field: Issues.pathToField(p),
      message
    })
    const decoded = Schema.decodeUnknownResult(BatchFile)(raw ?? null, {
      errors: "all",
      onExcessProperty: "error"
    })
    if (Result.isFailure(decoded)) {
      const issues = Issues.fromSchemaError(decoded.failure)
      return yield* Effect.fail(
        Failure.rejected(
          sortIssues(issues.map((i) => issueAt(i.path, i.message, i.message === "unknown field")))
        )
      )
    }
    const spec = decoded.success
    const dir = path.dirname(file)
    const issues: Array<Failure.ConfigIssue> = []

    const parameters = resolveParameters(spec, options, issueAt, issues)

    const dag = Dag.make(spec.rules.map((r) => ({ id: r.id, dependsOn: r.depends_on ?? [] })))
    if (Result.isFailure(dag)) {
      for (const i of dag.failure) {
        const p: Array<string | number> = ["rules", i.index]
        if (i._tag === "DuplicateId") p.push("id")
        else if (i._tag === "UnknownDependency") p.push("depends_on", i.dependency)
        else p.push("depends_on")
        issues.push(issueAt(p, Dag.describe(i)))
      }
    }

    const registry = yield* Plugin.Registry
    const specs = spec.parameters ?? {}
    yield* Effect.forEach(
      spec.rules,
      (rule, index) => {
        const runner = registry.get(rule.kind)
        if (Option.isNone(runner)) {
          const known = registry.kinds.length > 0 ? registry.kinds.join(", ") : "none registered"
          issues.push(issueAt(["rules", index, "kind"], `unknown rule kind "${rule.kind}" (known: ${known})`))
          return Effect.void
        }
        return runner.value
          .validate({
            batchDir: dir,
            rule: { id: rule.id, kind: rule.kind, dependsOn: rule.depends_on ?? [] },
            options: rule.options,
            parameters: specs
          })
          .pipe(
            Effect.map((found) => {
              for (const i of found) issues.push(issueAt(["rules", index, "options", ...i.path], i.message))
            })
          )
      },
      { discard: true }
    )

    const targets = yield* checkTargets(spec, dir, issueAt, issues)

    if (issues.length > 0 || Result.isFailure(dag)) {
      return yield* Effect.fail(Failure.rejected(sortIssues(issues)))
    }
    const byRule = new Map(targets.targets.map((t) => [t.ruleId, t]))
    return {
      name: spec.batch,
      ...(spec.description !== undefined ? { description: spec.description } : {}),
      file,
      dir,
      parameters,
      parameterSpecs: specs,
      engine: {
        parallelism: spec.engine?.parallelism ?? 1,
        ...(spec.engine?.rule_timeout_seconds !== undefined
          ? { ruleTimeoutSeconds: spec.engine.rule_timeout_seconds }
          : {}),
        settings: Object.fromEntries(
          Object.entries(spec.engine?.settings ?? {}).map(([k, v]) => [k, String(v)])
        )
      },
      targets,
      targetStore: spec.targets?.store ?? "filesystem",
      escalation: {
        ...(spec.escalation?.topic !== undefined ? { topic: spec.escalation.topic } : {}),
        labels: spec.escalation?.labels ?? {}
      },
      resume: spec.resume ?? "on_request",
      rules: spec.rules.map((r, index) => {
        const target = byRule.get(r.id)
        return {
          id: r.id,
          kind: r.kind,
          ...(r.description !== undefined ? { description: r.description } : {}),
          dependsOn: r.depends_on ?? [],
          ...(target !== undefined ? { target } : {}),
          options: r.options ?? {},
          ...(r.retry !== undefined ? { retry: Retry.policy(r.retry) } : {}),
          line: line(["rules", index])
        }
      }),
      plan: dag.success
    } satisfies Batch
  })

type IssueAt = (path: ReadonlyArray<string | number>, message: string) => Failure.ConfigIssue

const resolveParameters = (
  spec: BatchFile,
  options: LoadOptions,
  issueAt: IssueAt,
  issues: Array<Failure.ConfigIssue>
): Parameter.Values => {
  const specs = spec.parameters ?? {}
  const values: Record<string, Parameter.Value> = {}
  for (const name of Object.keys(options.params ?? {})) {
    if (!(name in specs)) {
      issues.push({
        file: "command line",
        line: 1,
        column: 1,
        field: `--param ${name}`,
        message: `unknown parameter "${name}" (declared: ${Object.keys(specs).join(", ") || "none"})`
      })
    }
  }
  for (const [name, p] of Object.entries(specs)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      issues.push(issueAt(["parameters", name], `parameter name "${name}" must be an identifier`))
      continue
    }
    if (p.type === "enum" && p.values === undefined) {
      issues.push(issueAt(["parameters", name, "type"], `enum parameter "${name}" needs "values"`))
      continue
    }
    if (p.type !== "enum" && p.values !== undefined) {
      issues.push(issueAt(["parameters", name, "values"], `"values" is only for enum parameters`))
    }
    if (p.default !== undefined) {
      const d = Parameter.parse(p, p.default)
      if (Result.isFailure(d))
        issues.push(issueAt(["parameters", name, "default"], `invalid default: ${d.failure}`))
    }
    const secret = Parameter.isSecret(name, p)
    if (secret && p.env === undefined) {
      issues.push(
        issueAt(
          ["parameters", name, "secret"],
          `secret parameter "${name}" needs "env": a secret is read from the environment, never from the command line or the file`
        )
      )
      continue
    }
    const given = options.params?.[name]
    if (secret && given !== undefined) {
      issues.push({
        file: "command line",
        line: 1,
        column: 1,
        field: `--param ${name}`,
        message: `parameter "${name}" is secret: give it through $${p.env}, not on the command line (every user of the host can read a command line)`
      })
      continue
    }
    const fromEnv = p.env !== undefined ? options.env?.[p.env] : undefined
    const [raw, origin] =
      given !== undefined
        ? [given, { file: "command line", field: `--param ${name}` }]
        : fromEnv !== undefined
          ? [fromEnv, { file: "environment", field: `$${p.env}` }]
          : [p.default, undefined]
    if (raw === undefined) {
      if (Parameter.isRequired(p)) {
        const how = secret
          ? `set $${p.env}; a secret is never taken from the command line`
          : `--param ${name}=…${p.env !== undefined ? ` or $${p.env}` : ""}`
        issues.push(issueAt(["parameters", name], `required parameter "${name}" was not given (${how})`))
      }
      continue
    }
    const parsed = Parameter.parse(p, raw, secret)
    if (Result.isSuccess(parsed)) values[name] = parsed.success
    else if (origin !== undefined) {
      issues.push({ ...origin, line: 1, column: 1, message: `parameter "${name}": ${parsed.failure}` })
    }
  }
  return values
}

const checkTargets = (
  spec: BatchFile,
  dir: string,
  issueAt: IssueAt,
  issues: Array<Failure.ConfigIssue>
): Effect.Effect<TargetStore.Resolved, never, TargetStore.TargetStore | Plugin.Registry> =>
  Effect.gen(function* () {
    const declared = spec.rules.flatMap((r) =>
      r.target !== undefined ? [{ ruleId: r.id, declared: r.target }] : []
    )
    const empty: TargetStore.Resolved = { roots: [], targets: [] }
    if (declared.length === 0) return empty
    const indexOf = new Map(spec.rules.map((r, i) => [r.id, i]))
    if (spec.targets === undefined) {
      for (const t of declared) {
        issues.push(
          issueAt(["rules", indexOf.get(t.ruleId)!, "target"], "a target needs the batch's targets.roots")
        )
      }
      return empty
    }
    const wanted = spec.targets.store ?? "filesystem"
    const selected = yield* targetStore(wanted)
    if (Option.isNone(selected)) {
      const available = yield* availableStores
      issues.push(
        issueAt(
          ["targets", "store"],
          `target store "${wanted}" is not available (available: ${available.join(", ")})`
        )
      )
      return empty
    }
    const store = selected.value
    return yield* store.check({ baseDir: dir, roots: spec.targets.roots, targets: declared }).pipe(
      Effect.catch((rejections) => {
        for (const r of rejections) {
          issues.push(
            r.at._tag === "Root"
              ? issueAt(["targets", "roots", r.at.index], r.message)
              : issueAt(["rules", indexOf.get(r.at.ruleId) ?? 0, "target"], r.message)
          )
        }
        return Effect.succeed(empty)
      })
    )
  })

const sortIssues = (issues: ReadonlyArray<Failure.ConfigIssue>): ReadonlyArray<Failure.ConfigIssue> =>
  [...issues].sort((a, b) =>
    a.file === b.file ? a.line - b.line || a.column - b.column : a.file < b.file ? -1 : 1
  )

/** The target store named `name`: one a runner brings, else the `TargetStore` service. */
export const targetStore = (
  name: string
): Effect.Effect<
  Option.Option<TargetStore.TargetStore["Service"]>,
  never,
  Plugin.Registry | TargetStore.TargetStore
> =>
  Effect.gen(function* () {
    const fromRunner = (yield* Plugin.Registry).store(name)
    if (Option.isSome(fromRunner)) return fromRunner
    const service = yield* TargetStore.TargetStore
    return service.name === name ? Option.some(service) : Option.none()
  })

const availableStores = Effect.gen(function* () {
  const registry = yield* Plugin.Registry
  const service = yield* TargetStore.TargetStore
  const names = [service.name]
  for (const kind of registry.kinds) {
    const loaded = registry.get(kind)
    if (Option.isSome(loaded)) names.push(...loaded.value.targetStores.map((s) => s.name))
  }
  return names
})

/** Looks a rule up by id. */
export const rule = (batch: Batch, id: string): Option.Option<Rule> =>
  Option.fromNullishOr(batch.rules.find((r) => r.id === id))
