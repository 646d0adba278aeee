/**
 * Loads a runner whose services (a Spark session) are acquired on the first rule it runs, not
 * when the registry is built. `validate`, `plan`, dry runs and rejected batches therefore never
 * touch Spark: a batch rejected for its config exits 3 even when Spark is down. A session that
 * cannot be opened reaches the rule as `EngineUnreachable` (a system failure, exit 2).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { Failure, Plugin } from "@spark-etl/core"
import type { TargetStore } from "@spark-etl/core"

/**
 * The services every runner of a registry shares (one Spark session for all kinds, so a view
 * one kind defines is there for the others), built once, on first use, in the caller's scope.
 * `describe` says what was opened (e.g. the engine's version), for the "engine session open" line.
 */
export const shared = <R, E>(
  services: Layer.Layer<R, E>,
  describe?: (context: Context.Context<R>) => string
): Effect.Effect<Effect.Effect<Context.Context<R>, E>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    return yield* Effect.cached(
      Layer.buildWithScope(services, scope).pipe(
        Effect.tap((context) =>
          Effect.logInfo(
            describe === undefined ? "engine session open" : `engine session open: ${describe(context)}`
          )
        )
      )
    )
  })

/**
 * @param runner the runner, needing services `R`
 * @param services the shared services (see {@link shared}): opened by the first rule that runs
 * @param forValidation stand-ins for `R` during static validation (which must not use them)
 */
export const load = <O, R, E extends { readonly message: string }>(
  runner: Plugin.Runner<O, R>,
  services: Effect.Effect<Context.Context<R>, E>,
  forValidation: Layer.Layer<R>
): Effect.Effect<Plugin.Loaded> =>
  Effect.gen(function* () {
    const validating = yield* Plugin.load(runner).pipe(Effect.provide(forValidation))
    const running = yield* Effect.cached(
      Effect.flatMap(services, (context) => Plugin.load(runner).pipe(Effect.provideContext(context)))
    )
    // A session that cannot be opened is a platform failure (exit 2), whoever asked first.
    const engine = (ruleId?: string) =>
      running.pipe(
        Effect.mapError(
          (error) =>
            new Failure.EngineUnreachable({
              message: `cannot open the engine session: ${error.message}`,
              ...(ruleId !== undefined ? { ruleId } : {})
            })
        )
      )
    const opened = running.pipe(
      Effect.mapError((error) => `cannot open the engine session: ${error.message}`)
    )
    return {
      kind: runner.kind,
      validate: validating.validate,
      // A runner's own target stores (Spark tables, paths through Spark) check statically, but
      // clean through the real session, opened on first use like the rules'.
      targetStores: validating.targetStores.map((store) => {
        const real = (ruleId?: string) =>
          opened.pipe(
            Effect.mapError(
              (message) =>
                new Failure.TargetError({
                  message,
                  restartable: true,
                  ...(ruleId !== undefined ? { ruleId } : {})
                })
            ),
            Effect.map((loaded) => loaded.targetStores.find((s) => s.name === store.name))
          )
        return {
          ...store,
          ...(store.verify !== undefined
            ? {
                verify: (resolved: TargetStore.Resolved) =>
                  Effect.flatMap(real(), (s) => s?.verify?.(resolved) ?? Effect.void)
              }
            : {}),
          clean: (resolved: TargetStore.Resolved, target: TargetStore.Target) =>
            Effect.flatMap(real(target.ruleId), (s) =>
              s === undefined ? Effect.void : s.clean(resolved, target)
            )
        }
      }),
      run: (ctx) => Effect.flatMap(engine(ctx.rule.id), (loaded) => loaded.run(ctx)),
      prepare: (ctx) => Effect.flatMap(engine(), (loaded) => loaded.prepare(ctx)),
      preflight: (ctx) => Effect.flatMap(engine(ctx.rule.id), (loaded) => loaded.preflight(ctx)),
      // Whether a rule may be analysed alongside others is told from its options alone.
      preflightIsolated: validating.preflightIsolated,
      // A retry's: the session is open (the failed attempt ran in it).
      abandon: (ctx) =>
        engine(ctx.rule.id).pipe(
          Effect.flatMap((loaded) => loaded.abandon(ctx)),
          Effect.catch((e) => Effect.logWarning(e.message))
        ),
      // A fingerprint never needs the engine (`plan --resume` has none); restoring a skipped
      // rule's output does, and opens the session like a rule.
      fingerprint: validating.fingerprint,
      restores: validating.restores,
      restore: (ctx) => Effect.flatMap(engine(ctx.rule.id), (loaded) => loaded.restore(ctx))
    } satisfies Plugin.Loaded
  })
