/**
 * Runs a plan with bounded parallelism and batch-level fail-fast. A rule starts once all its
 * dependencies succeeded and a slot is free. The first failure (or a stop request) ends the
 * batch at once: in-flight rules are interrupted (Effect interruption, which a runner turns
 * into an engine-side interrupt) and awaited, no new rule starts, and every rule that did not
 * start is recorded as not run. Every rule and the batch carry timings from effect's `Clock`.
 *
 * A rule with a retry policy is attempted again, after its delay, when it fails with a failure
 * the policy names; its slot stays taken while it waits (its siblings run on), the whole series
 * stays within the rule's deadline, and only the last attempt's failure fails the batch. Rules
 * a resume skips count as done for the rules after them.
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import type * as Dag from "./Dag.js"
import * as Failure from "./Failure.js"
import * as Retry from "./Retry.js"

/** What happened to a rule. */
export type RuleState = "pending" | "running" | "succeeded" | "failed" | "interrupted" | "not_run" | "skipped"

/** A rule's record after the run. Times are epoch milliseconds. */
export interface RuleResult {
  readonly id: string
  readonly state: RuleState
  readonly attempt: number
  readonly startedAt?: number
  readonly endedAt?: number
  readonly durationMs?: number
  readonly failure?: Failure.Failure
}

/** How the execution ended: `failed` on a rule failure, `aborted` when stopped. */
export type Status = "succeeded" | "failed" | "aborted"

/** The outcome of executing a plan. */
export interface Report {
  readonly status: Status
  /** The failure that ended the batch (the first one). */
  readonly failure?: Failure.Failure
  /** Every rule, in plan order. */
  readonly rules: ReadonlyArray<RuleResult>
  readonly startedAt: number
  readonly endedAt: number
  readonly durationMs: number
  /**
   * Rules still running when the stop's grace ran out (recorded `interrupted`): their engine
   * work was not seen to stop, so the caller must fence it.
   */
  readonly unsettled: ReadonlyArray<string>
}

/** A rule's state change, as it happens (for events, the ledger and logs). */
export type Transition =
  | { readonly _tag: "RuleStarted"; readonly id: string; readonly attempt: number; readonly at: number }
  | { readonly _tag: "RuleEnded"; readonly result: RuleResult }
  /** The rule failed with a retryable failure: attempt `attempt` runs after `delayMs`. */
  | {
      readonly _tag: "RuleRetrying"
      readonly id: string
      readonly attempt: number
      readonly failure: Failure.RuleFailure
      readonly delayMs: number
    }

/** How to execute. */
export interface Options {
  /** Rules at once; default 1. */
  readonly parallelism?: number
  /** Completed when the run must stop (e.g. on SIGINT); checked before any rule starts. */
  readonly stop?: Deferred.Deferred<Failure.Interrupted>
  /** Deadline of each rule; past it the rule is interrupted and fails with `DeadlineExceeded`. */
  readonly ruleTimeout?: Duration.Duration
  /**
   * How long a stop request (not a rule failure) waits for the interrupted rules to end; those
   * still running then are recorded `interrupted` and listed in `unsettled`. Default: no bound.
   * After a signal the process has seconds left, and an engine that does not answer must not
   * hold the rest of the run's close.
   */
  readonly stopGrace?: Duration.Duration
  /**
   * Called at each transition; in order for each rule. Retry decisions come from the rule's
   * own fiber, the rest from the executor's.
   */
  readonly onTransition?: (transition: Transition) => Effect.Effect<void>
  /** Rules already done (skipped by a resume): never run, done for the rules after them. */
  readonly skip?: ReadonlySet<string>
  /** A rule's retry policy, if it has one. */
  readonly retry?: (id: string) => Retry.Policy | undefined
  /** Runs before each retry of a rule (e.g. cleaning its own target); a failure is the attempt's. */
  readonly beforeRetry?: (id: string, attempt: number) => Effect.Effect<void, Failure.RuleFailure>
}

/** Runs one rule; `attempt` starts at 1. */
export type RunRule = (id: string, attempt: number) => Effect.Effect<void, Failure.RuleFailure>

type Message =
  | { readonly _tag: "Done"; readonly id: string; readonly exit: Exit.Exit<void, Failure.RuleFailure> }
  | { readonly _tag: "Stop"; readonly failure: Failure.Interrupted }

/** Executes the plan; never fails: failures are in the report. */
export const execute = (plan: Dag.Plan, runRule: RunRule, options: Options = {}): Effect.Effect<Report> =>
  Effect.gen(function* () {
    const parallelism = Math.max(1, Math.floor(options.parallelism ?? 1))
    const notify = options.onTransition ?? (() => Effect.void)
    const skip = options.skip ?? new Set<string>()
    const results = new Map<string, RuleResult>(
      plan.order.map((id) => [id, { id, state: skip.has(id) ? "skipped" : "pending", attempt: 0 }])
    )
    const waitingOn = new Map(
      plan.order.map((id) => [id, (plan.dependencies.get(id) ?? []).filter((d) => !skip.has(d)).length])
    )
    const ready = plan.order.filter((id) => !skip.has(id) && waitingOn.get(id) === 0)
    const running = new Map<string, Fiber.Fiber<void>>()
    const done = yield* Queue.unbounded<Message>()
    const batchStart = yield* Clock.currentTimeMillis
    let failure: Failure.Failure | undefined
    const unsettled: Array<string> = []

    const withDeadline = (id: string, rule: Effect.Effect<void, Failure.RuleFailure>) => {
      const timeout = options.ruleTimeout
      if (timeout === undefined) return rule
      return Effect.timeoutOrElse(rule, {
        duration: timeout,
        orElse: () =>
          Effect.fail(
            new Failure.DeadlineExceeded({
              message: `rule ${id} ran past its deadline of ${Duration.format(timeout)}`,
              ruleId: id
            })
          )
      })
    }

    // The rule's attempts: the first, then one per retry its policy allows, each after its delay.
    const attempts = (id: string): Effect.Effect<void, Failure.RuleFailure> => {
      const policy = options.retry?.(id)
      if (policy === undefined || policy.attempts <= 1) return runRule(id, 1)
      const before = options.beforeRetry ?? (() => Effect.void)
      let attempt = 1
      const once = Effect.suspend(() =>
        attempt === 1 ? runRule(id, 1) : Effect.andThen(before(id, attempt), runRule(id, attempt))
      )
      return Effect.retry(
        once,
        Retry.schedule(policy, (next, failure, delay) =>
          Effect.suspend(() => {
            attempt = next
            const current = results.get(id)!
            results.set(id, { ...current, attempt: next })
            return notify({
              _tag: "RuleRetrying",
              id,
              attempt: next,
              failure,
              delayMs: Duration.toMillis(delay)
            })
          })
        )
      )
    }

    const start = (id: string) =>
      Effect.gen(function* () {
        const at = yield* Clock.currentTimeMillis
        results.set(id, { id, state: "running", attempt: 1, startedAt: at })
        yield* notify({ _tag: "RuleStarted", id, attempt: 1, at })
        // Forked and registered as one step: an interrupt in between would orphan the rule.
        yield* Effect.uninterruptibleMask((restore) =>
          restore(withDeadline(id, attempts(id))).pipe(
            Effect.annotateLogs({ rule: id }),
            Effect.exit,
            Effect.flatMap((exit) => Queue.offer(done, { _tag: "Done", id, exit })),
            Effect.asVoid,
            Effect.forkDetach({ startImmediately: true }),
            Effect.map((fiber) => void running.set(id, fiber))
          )
        )
      })

    const end = (id: string, state: RuleState, ruleFailure?: Failure.Failure) =>
      Effect.gen(function* () {
        const at = yield* Clock.currentTimeMillis
        const before = results.get(id)!
        const result: RuleResult = {
          ...before,
          state,
          endedAt: at,
          durationMs: at - (before.startedAt ?? at),
          ...(ruleFailure !== undefined ? { failure: ruleFailure } : {})
        }
        results.set(id, result)
        yield* notify({ _tag: "RuleEnded", result })
      })

    const settle = (message: Extract<Message, { _tag: "Done" }>) =>
      Effect.gen(function* () {
        running.delete(message.id)
        if (Exit.isSuccess(message.exit)) {
          yield* end(message.id, "succeeded")
          for (const next of plan.dependents.get(message.id) ?? []) {
            const left = waitingOn.get(next)! - 1
            waitingOn.set(next, left)
            if (left === 0) ready.push(next)
          }
          return
        }
        const ruleFailure = Failure.fromCause(message.exit.cause, message.id)
        if (ruleFailure._tag === "Defect") {
          yield* Effect.logError(`rule ${message.id}: ${ruleFailure.message}`, ruleFailure.engineDetail ?? "")
        }
        yield* end(message.id, ruleFailure._tag === "Interrupted" ? "interrupted" : "failed", ruleFailure)
        failure ??= ruleFailure
      })

    const signal = options.stop
    let stopping = false

    // Interrupts what runs and records each rule's real end: a rule may have finished just
    // before the interrupt reached it, and then its own outcome is kept. After a rule failure
    // the siblings are awaited without bound (their interrupts reach the engine); after a stop
    // — also one that comes while siblings are still being awaited — for `stopGrace` at most.
    const stopAll = Effect.gen(function* () {
      const fibers = [...running.entries()]
      const interrupting = Fiber.interruptAll(fibers.map(([, fiber]) => fiber))
      const grace = options.stopGrace
      if (grace === undefined || signal === undefined) yield* interrupting
      else if (stopping) yield* Effect.timeoutOption(interrupting, grace)
      else yield* Effect.raceFirst(interrupting, Effect.andThen(Deferred.await(signal), Effect.sleep(grace)))
      for (const message of yield* Queue.clear(done)) if (message._tag === "Done") yield* settle(message)
      for (const [id, fiber] of fibers) {
        if (!running.has(id)) continue
        running.delete(id)
        // Still running past the grace: left to finish its interrupt in the background.
        if (fiber.pollUnsafe() === undefined) unsettled.push(id)
        yield* end(id, "interrupted")
      }
    })

    const stop =
      signal && Deferred.await(signal).pipe(Effect.map((f): Message => ({ _tag: "Stop", failure: f })))
    const loop = Effect.gen(function* () {
      while (true) {
        // A stop that came while nothing was running is seen before any rule starts.
        if (failure === undefined && signal !== undefined && Deferred.isDoneUnsafe(signal)) {
          failure = yield* Deferred.await(signal)
          stopping = true
        }
        while (failure === undefined && running.size < parallelism && ready.length > 0) {
          yield* start(ready.shift()!)
        }
        if (running.size === 0) break
        if (failure === undefined) {
          const message = yield* stop ? Effect.raceFirst(Queue.take(done), stop) : Queue.take(done)
          if (message._tag === "Stop") {
            failure = message.failure
            stopping = true
          } else yield* settle(message)
        }
        if (failure !== undefined) yield* stopAll
      }
    })
    // Rule fibers are detached (a rule left behind past the grace must not hold the caller), so
    // an interruption of the executor itself interrupts them explicitly.
    yield* loop.pipe(Effect.onInterrupt(() => Fiber.interruptAll([...running.values()])))

    for (const id of plan.order) {
      if (results.get(id)!.state === "pending") {
        const result: RuleResult = { id, state: "not_run", attempt: 0 }
        results.set(id, result)
        yield* notify({ _tag: "RuleEnded", result })
      }
    }
    const batchEnd = yield* Clock.currentTimeMillis
    const status: Status =
      failure === undefined ? "succeeded" : failure.category === "interrupted" ? "aborted" : "failed"
    return {
      status,
      ...(failure !== undefined ? { failure } : {}),
      rules: plan.order.map((id) => results.get(id)!),
      startedAt: batchStart,
      endedAt: batchEnd,
      durationMs: batchEnd - batchStart,
      unsettled
    }
  })
