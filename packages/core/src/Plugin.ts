/**
 * The runner plugin contract. A rule kind (`sql`, …) is one package that exports a `Runner`:
 * its kind name, the Schema of its options, an optional static check run when the batch is
 * loaded (so a bad rule rejects the batch before any side effect), and `run`, an Effect that
 * must honour interruption (a Spark runner turns it into an engine-side interrupt) and fail
 * only with the taxonomy's `RuleFailure`s. The CLI puts the runners in a `Registry`.
 *
 * Before any target is cleaned, a run asks each runner it uses to `prepare` once (open the
 * engine session, apply the batch's engine settings) and to `preflight` every rule in
 * dependency order: analyse it on the engine without executing it, so a parse error or a
 * missing table fails the batch while yesterday's outputs are still in place.
 *
 * Runner packages check themselves with the conformance kit in `@spark-etl/core/testing`.
 *
 * A plugin package exports `plugin` ({@link Package}): the plugin API version it was built for
 * and its runners. A batch file names the packages it needs (`plugins:`); the CLI imports them,
 * refuses one built for another API version, and registers their kinds beside the built-in ones.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Path from "effect/Path"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Failure from "./Failure.js"
import type * as Parameter from "./Parameter.js"
import type * as TargetStore from "./TargetStore.js"
import * as Issues from "./internal/issues.js"

/** A problem in a rule's options; `path` is relative to the rule's `options`. */
export interface Issue {
  readonly path: ReadonlyArray<string | number>
  readonly message: string
}

/** What a runner's static check sees. */
export interface ValidateContext<O> {
  /** Directory of the batch file; relative file references resolve from here. */
  readonly batchDir: string
  readonly rule: {
    readonly id: string
    readonly kind: string
    /** The rules it depends on, as the batch file lists them (absent where no batch is loaded). */
    readonly dependsOn?: ReadonlyArray<string>
  }
  readonly options: O
  /** Parameter declarations, so templates can be checked against them. */
  readonly parameters: Readonly<Record<string, Parameter.Spec>>
}

/** What a runner's `run` sees. */
export interface RunContext<O> {
  readonly runId: string
  /** 1 for the first attempt; retries (planned) count up. */
  readonly attempt: number
  readonly batch: {
    readonly name: string
    readonly dir: string
    readonly parameters: Parameter.Values
    readonly settings: Readonly<Record<string, string>>
  }
  readonly rule: {
    readonly id: string
    readonly kind: string
    readonly dependsOn: ReadonlyArray<string>
    readonly target?: TargetStore.Target
  }
  readonly options: O
}

/**
 * The tag a runner puts on every Spark operation of a rule, `spark-etl-<runId>-<ruleId>`: what
 * interrupting the rule (or abandoning an attempt before a retry) stops by, and what an operator
 * finds in Spark's UI. Spark refuses a comma (its tag separator), so the alphabet is kept plain.
 */
export const operationTag = (runId: string, ruleId: string): string =>
  `spark-etl-${runId}-${ruleId}`.replace(/[^A-Za-z0-9_.-]/g, "_")

/** What a runner's `prepare` sees: once per run, before any rule is analysed. */
export interface PrepareContext {
  readonly runId: string
  readonly batch: RunContext<unknown>["batch"]
}

/** What a runner's `preflight` sees: the rule as `run` will, and every target of the batch. */
export interface PreflightContext<O> extends RunContext<O> {
  /**
   * Every target of the batch. A rule that reads another rule's output path cannot read it at
   * preflight (cleanup has not run, the upstream rule has not written): it is analysed against
   * the upstream rule's result instead, which is what it will read.
   */
  readonly targets: ReadonlyArray<TargetStore.Target>
}

/** What preflight could say about a rule. */
export type Analysis =
  /** The rule was analysed on the engine (nothing executed) and is sound. */
  | { readonly _tag: "Analysed" }
  /**
   * The rule cannot be analysed without a side effect (e.g. a DDL statement); it and the rules
   * downstream of it are checked when they run.
   */
  | { readonly _tag: "NotAnalysed"; readonly reason: string }

export const analysed: Analysis = { _tag: "Analysed" }
export const notAnalysed = (reason: string): Analysis => ({ _tag: "NotAnalysed", reason })

/**
 * What defines a rule's output besides its options and target, for checkpoints: the text of
 * the files it reads its definition from (a SQL file), and the batch parameters it uses.
 */
export interface Definition {
  /** Everything of the definition that is not in the options (e.g. the SQL file's content). */
  readonly text: string
  /** The batch parameters the rule references; absent: all of them. */
  readonly parameters?: ReadonlyArray<string>
}

/**
 * What restoring a rule skipped by a resume gave: the rules after it see what they would have
 * seen had it run (its view, read back from its output or re-defined), or it cannot be
 * restored without running (then it runs, and everything downstream of it).
 */
export type Restoration =
  { readonly _tag: "Restored" } | { readonly _tag: "NotRestorable"; readonly reason: string }

export const restored: Restoration = { _tag: "Restored" }

/**
 * What a rule's `run` may return besides nothing: a note kept with its checkpoint (JSON), given
 * back to `restore` when a resume skips the rule — e.g. the output's schema, so it is read back
 * as it was written, without the engine inferring it.
 */
export interface Committed {
  readonly checkpoint: unknown
}

/** What `restore` sees: the rule as `preflight` would, and the note its run returned. */
export interface RestoreContext<O> extends PreflightContext<O> {
  readonly checkpoint?: unknown
}
export const notRestorable = (reason: string): Restoration => ({ _tag: "NotRestorable", reason })

/** A runner for one rule kind, needing services `R` (e.g. a Spark session). */
export interface Runner<O, R = never> {
  readonly kind: string
  readonly options: Schema.Decoder<O>
  readonly validate?: (
    ctx: ValidateContext<O>
  ) => Effect.Effect<ReadonlyArray<Issue>, never, R | FileSystem.FileSystem | Path.Path>
  readonly run: (ctx: RunContext<O>) => Effect.Effect<void | Committed, Failure.RuleFailure, R>
  /**
   * Once per run, before preflight: open the engine session and apply the batch's engine
   * settings. A failure here ends the run before any target is touched.
   */
  readonly prepare?: (ctx: PrepareContext) => Effect.Effect<void, Failure.RuleFailure, R>
  /**
   * Analyses one rule without executing it (its dependencies were analysed first, in the same
   * session). Absent: the rule is `NotAnalysed`.
   */
  readonly preflight?: (ctx: PreflightContext<O>) => Effect.Effect<Analysis, Failure.RuleFailure, R>
  /**
   * Whether the rule's preflight is isolated: it changes nothing on the engine that another
   * rule's analysis reads, except the result it defines for the rules that depend on it (no
   * session setting, no name of its own), and it reads no rule of `ruleIds` (every rule of the
   * batch) it does not depend on. Core analyses isolated rules that do not depend on one another
   * side by side, and reads their outcomes in plan order. Absent or false: the rule is analysed
   * alone, after every rule before it. Must not touch the engine.
   */
  readonly preflightIsolated?: (
    ctx: PreflightContext<O>,
    ruleIds: ReadonlyArray<string>
  ) => Effect.Effect<boolean, never, R>
  /**
   * Before a retry: stops whatever the failed attempt may still run on the engine (its stream
   * broke, so its own interrupt may never have arrived), before the rule's target is emptied
   * again, so no late write of it lands in the next attempt's output. Best effort: it never
   * fails (say what it could not stop in the log).
   */
  readonly abandon?: (ctx: RunContext<O>) => Effect.Effect<void, never, R>
  /** A target store this runner brings (e.g. Spark tables), selected by `targets.store`. */
  readonly targetStore?: Effect.Effect<TargetStore.TargetStore["Service"], never, R>
  /** More target stores this runner brings, each selected by its name. */
  readonly targetStores?: ReadonlyArray<Effect.Effect<TargetStore.TargetStore["Service"], never, R>>
  /**
   * What defines the rule's output besides its options and target (files it reads its
   * definition from, parameters it uses), for checkpoints. Absent: the options alone, and
   * every parameter. Must not touch the engine (`plan --resume` runs without one).
   */
  readonly fingerprint?: (
    ctx: ValidateContext<O>
  ) => Effect.Effect<Definition, never, R | FileSystem.FileSystem | Path.Path>
  /**
   * For a resume, in place of preflight: re-establishes on the new session what the rule gave
   * the rules after it — its view read back from its output (a target), or re-defined lazily
   * (a view) — without executing it or writing anything. A capturable failure means its output
   * is gone or unreadable: the rule then runs. Absent: a skipped rule of this kind cannot be
   * restored, so it always runs on resume.
   */
  readonly restore?: (ctx: RestoreContext<O>) => Effect.Effect<Restoration, Failure.RuleFailure, R>
}

/** Declares a runner with its types inferred. */
export const make = <O, R = never>(runner: Runner<O, R>): Runner<O, R> => runner

/** A runner with its services captured: options are raw YAML values, decoded inside. */
export interface Loaded {
  readonly kind: string
  /** Decodes and checks raw options; returns every issue (empty when valid). */
  readonly validate: (
    ctx: ValidateContext<unknown>
  ) => Effect.Effect<ReadonlyArray<Issue>, never, FileSystem.FileSystem | Path.Path>
  /** Runs a rule from its raw options. */
  readonly run: (ctx: RunContext<unknown>) => Effect.Effect<void | Committed, Failure.RuleFailure>
  readonly prepare: (ctx: PrepareContext) => Effect.Effect<void, Failure.RuleFailure>
  readonly preflight: (ctx: PreflightContext<unknown>) => Effect.Effect<Analysis, Failure.RuleFailure>
  /** Whether the rule may be analysed alongside others (see Runner.preflightIsolated). */
  readonly preflightIsolated: (
    ctx: PreflightContext<unknown>,
    ruleIds: ReadonlyArray<string>
  ) => Effect.Effect<boolean>
  /** Stops what an earlier attempt of the rule may still run (see Runner.abandon). */
  readonly abandon: (ctx: RunContext<unknown>) => Effect.Effect<void>
  /** The target stores the runner brings (`targetStore`, then `targetStores`). */
  readonly targetStores: ReadonlyArray<TargetStore.TargetStore["Service"]>
  /** The rule's definition beyond options (see Runner.fingerprint); never fails. */
  readonly fingerprint: (
    ctx: ValidateContext<unknown>
  ) => Effect.Effect<Definition, never, FileSystem.FileSystem | Path.Path>
  readonly restore: (ctx: RestoreContext<unknown>) => Effect.Effect<Restoration, Failure.RuleFailure>
  /** Whether the runner has a `restore` (without one, a skipped rule of the kind always runs). */
  readonly restores: boolean
}

/** Decodes raw options with a runner's schema, reporting every problem with its path. */
export const decodeOptions = <O, R>(
  runner: Runner<O, R>,
  raw: unknown
): Result.Result<O, ReadonlyArray<Issue>> => optionsDecoder(runner)(raw)

// One decoder per runner, made once: a batch decodes the options of every rule with it.
const optionsDecoder = <O, R>(
  runner: Runner<O, R>
): ((raw: unknown) => Result.Result<O, ReadonlyArray<Issue>>) => {
  const decode = Schema.decodeUnknownResult(runner.options)
  return (raw) =>
    Result.mapError(decode(raw ?? {}, { errors: "all", onExcessProperty: "error" }), Issues.fromSchemaError)
}

/** Captures a runner's services, so runners of different needs share one registry. */
export const load = <O, R>(runner: Runner<O, R>): Effect.Effect<Loaded, never, R> =>
  Effect.gen(function* () {
    const context = yield* Effect.context<R>()
    const targetStores = yield* Effect.all([
      ...(runner.targetStore !== undefined ? [runner.targetStore] : []),
      ...(runner.targetStores ?? [])
    ])
    return loaded(runner, context, targetStores)
  })

const loaded = <O, R>(
  runner: Runner<O, R>,
  context: Context.Context<R>,
  targetStores: ReadonlyArray<TargetStore.TargetStore["Service"]>
): Loaded => {
  const decode = optionsDecoder(runner)
  return {
    kind: runner.kind,
    targetStores,
    validate: (ctx) => {
      const decoded = decode(ctx.options)
      if (Result.isFailure(decoded)) return Effect.succeed(decoded.failure)
      return runner.validate
        ? Effect.provideContext(runner.validate({ ...ctx, options: decoded.success }), context)
        : Effect.succeed([])
    },
    run: (ctx) =>
      withOptions(decode, ctx, (options) =>
        Effect.provideContext(runner.run({ ...ctx, options }), context)
      ).pipe(heldToContract(runner.kind, ctx.rule.id)),
    prepare: (ctx) =>
      runner.prepare
        ? Effect.provideContext(runner.prepare(ctx), context).pipe(heldToContract(runner.kind))
        : Effect.void,
    preflight: (ctx) =>
      runner.preflight
        ? withOptions(decode, ctx, (options) =>
            Effect.provideContext(runner.preflight!({ ...ctx, options }), context)
          ).pipe(heldToContract(runner.kind, ctx.rule.id))
        : Effect.succeed(notAnalysed(`rule kind "${runner.kind}" has no preflight`)),
    preflightIsolated: (ctx, ruleIds) => {
      const decoded = decode(ctx.options)
      return Result.isSuccess(decoded) && runner.preflight && runner.preflightIsolated
        ? Effect.provideContext(
            runner.preflightIsolated({ ...ctx, options: decoded.success }, ruleIds),
            context
          )
        : Effect.succeed(false)
    },
    fingerprint: (ctx) => {
      const decoded = decode(ctx.options)
      return Result.isSuccess(decoded) && runner.fingerprint
        ? Effect.provideContext(runner.fingerprint({ ...ctx, options: decoded.success }), context)
        : Effect.succeed({ text: "" })
    },
    abandon: (ctx) => {
      const decoded = decode(ctx.options)
      return Result.isSuccess(decoded) && runner.abandon
        ? Effect.provideContext(runner.abandon({ ...ctx, options: decoded.success }), context)
        : Effect.void
    },
    restores: runner.restore !== undefined,
    restore: (ctx) =>
      runner.restore
        ? withOptions(decode, ctx, (options) =>
            Effect.provideContext(runner.restore!({ ...ctx, options }), context)
          ).pipe(heldToContract(runner.kind, ctx.rule.id))
        : Effect.succeed(notRestorable(`rule kind "${runner.kind}" cannot restore a skipped rule`))
  }
}

// A runner may be plain JavaScript, or cast its way past the types: what it fails with is checked
// where core receives it, so a summary never reads `undefined` or ends in an empty colon.
const heldToContract =
  (kind: string, ruleId?: string) =>
  <A, R>(effect: Effect.Effect<A, Failure.RuleFailure, R>): Effect.Effect<A, Failure.RuleFailure, R> =>
    Effect.mapError(effect, Failure.fromRunner(kind, ruleId))

// Options were validated at load; failing to decode them now means the contract was broken.
const withOptions = <O, A>(
  decode: (raw: unknown) => Result.Result<O, ReadonlyArray<Issue>>,
  ctx: RunContext<unknown>,
  f: (options: O) => Effect.Effect<A, Failure.RuleFailure>
): Effect.Effect<A, Failure.RuleFailure> => {
  const decoded = decode(ctx.options)
  if (Result.isSuccess(decoded)) return f(decoded.success)
  return Effect.fail(
    new Failure.Defect({
      message: `options of rule "${ctx.rule.id}" no longer decode`,
      engineDetail: decoded.failure.map((i) => `${Issues.pathToField(i.path)}: ${i.message}`).join("\n"),
      ruleId: ctx.rule.id
    })
  )
}

/** The runners of this process, by kind. */
export class Registry extends Context.Service<
  Registry,
  {
    readonly get: (kind: string) => Option.Option<Loaded>
    readonly kinds: ReadonlyArray<string>
    /** A target store brought by a runner, by name. */
    readonly store: (name: string) => Option.Option<TargetStore.TargetStore["Service"]>
  }
>()("@spark-etl/core/Registry") {}

/** Builds a registry from loaded runners; a kind registered twice is a defect of assembly. */
export const makeRegistry = (loaded: ReadonlyArray<Loaded>): Effect.Effect<Registry["Service"]> =>
  Effect.suspend(() => {
    const byKind = new Map<string, Loaded>()
    for (const l of loaded) {
      if (byKind.has(l.kind)) return Effect.die(new Error(`runner kind "${l.kind}" registered twice`))
      byKind.set(l.kind, l)
    }
    return Effect.succeed(
      Registry.of({
        get: (kind) => Option.fromNullishOr(byKind.get(kind)),
        kinds: [...byKind.keys()].sort(),
        store: (name) =>
          Option.fromNullishOr(loaded.flatMap((l) => l.targetStores).find((s) => s.name === name))
      })
    )
  })

/** The registry layer: `Registry.layer([Plugin.load(sqlRunner), …])`. */
export const layer = <R>(
  runners: ReadonlyArray<Effect.Effect<Loaded, never, R>>
): Layer.Layer<Registry, never, R> =>
  Layer.effect(Registry, Effect.flatMap(Effect.all(runners), makeRegistry))

/**
 * The plugin API this core implements. It changes only when a change to the contract would
 * break a plugin built for the previous one; a package built for another version is refused.
 */
export const apiVersion = 1

/**
 * A runner of a plugin package, its options type hidden: the host hands `use` what it does
 * with any runner (load it under its services), so runners of different options share a list.
 */
export interface Entry<R> {
  readonly kind: string
  readonly use: <A>(f: <O>(runner: Runner<O, R>) => A) => A
}

/** Wraps a runner for a plugin package's list. */
export const entry = <O, R>(runner: Runner<O, R>): Entry<R> => ({ kind: runner.kind, use: (f) => f(runner) })

/**
 * What a plugin package exports as `plugin`. `R` is what the host gives its runners: the CLI
 * gives a Spark session (`SparkSession` of `@spark-etl/runner-spark-connect`), opened on first
 * use — a runner needing anything else cannot be hosted.
 *
 * @example
 * export const plugin = Plugin.definePackage({ apiVersion: Plugin.apiVersion, runners: [Plugin.entry(FooRunner.runner)] })
 */
export interface Package<R> {
  readonly apiVersion: number
  readonly runners: ReadonlyArray<Entry<R>>
}

/** Declares a plugin package's export with its types checked. */
export const definePackage = <R>(pkg: Package<R>): Package<R> => pkg

const isFunction = (u: unknown): u is (...args: ReadonlyArray<never>) => unknown => typeof u === "function"

/** The shape a module's `plugin` export must have; what its runners need is the host's promise. */
const PackageShape = Schema.Struct({
  apiVersion: Schema.Int,
  runners: Schema.Array(
    Schema.Struct({
      kind: Schema.String.check(
        Schema.isPattern(/^[a-z][a-z0-9_-]{0,63}$/, {
          message: "a rule kind: lower-case letters, digits, '_' and '-', starting with a letter"
        })
      ),
      use: Schema.declare(isFunction, { title: "a function" })
    })
  )
})

/**
 * Checks a module's `plugin` export: its shape, then its API version. The message (to follow
 * the package's name) says what is wrong in words an operator can act on (upgrade which side).
 */
export const checkPackage = <R>(exported: unknown): Result.Result<Package<R>, string> => {
  if (exported === undefined) return Result.fail("exports no `plugin` (see docs/plugin-guide.md)")
  const decoded = Schema.decodeUnknownResult(PackageShape)(exported, { errors: "all" })
  if (Result.isFailure(decoded))
    return Result.fail(
      `exports a \`plugin\` that is not a plugin package: ${Issues.fromSchemaError(decoded.failure)
        .map((i) => `${Issues.pathToField(i.path) || "plugin"}: ${i.message}`)
        .join("; ")}`
    )
  if (decoded.success.apiVersion !== apiVersion)
    return Result.fail(
      `was built for plugin API ${decoded.success.apiVersion}; this spark-etl implements plugin API ${apiVersion} ` +
        `(use a release of the plugin built for API ${apiVersion}, or a spark-etl that implements ${decoded.success.apiVersion})`
    )
  // The shape is checked; the runners' service needs are the package's promise (see Package).
  return Result.succeed(exported as Package<R>)
}
