import { assert, describe, expect, it } from "@effect/vitest"
import { Context, Data, Effect, Exit, Layer, Option, Result, Schema } from "effect"
import * as Failure from "../src/Failure.js"
import * as Plugin from "../src/Plugin.js"
import * as Testing from "../src/testing.js"
import { node } from "./support.js"

// Two services that two runners need, as a Spark session would be.
class Greeting extends Context.Service<Greeting, { readonly text: string }>()("test/Greeting") {}
class Counter extends Context.Service<Counter, { readonly hits: Array<string> }>()("test/Counter") {}

const greeter = Plugin.make({
  kind: "greeter",
  options: Schema.Struct({ name: Schema.String, times: Schema.optionalKey(Schema.Int) }),
  run: ({ options }) =>
    Effect.gen(function* () {
      const greeting = yield* Greeting
      const counter = yield* Counter
      counter.hits.push(`${greeting.text} ${options.name}`)
    })
})
const counter = Plugin.make({
  kind: "counter",
  options: Schema.Struct({}),
  run: () => Effect.flatMap(Counter, (c) => Effect.sync(() => void c.hits.push("count")))
})

describe("Plugin", () => {
  it("decodes options, reporting every problem with its path", () => {
    const bad = Plugin.decodeOptions(greeter, { times: 1.5, colour: "red" })
    assert(Result.isFailure(bad))
    expect(bad.failure).toEqual([
      { path: ["colour"], message: "unknown field" },
      { path: ["name"], message: "required field is missing" },
      { path: ["times"], message: "Expected an integer" }
    ])
    expect(Plugin.decodeOptions(greeter, { name: "L2" })).toEqual(Result.succeed({ name: "L2" }))
  })

  it.effect("captures each runner's services when the registry is built", () =>
    Effect.gen(function* () {
      const hits: Array<string> = []
      // The registry's layer needs the union of the runners' services; rules then need none.
      const registry: Layer.Layer<Plugin.Registry, never, Greeting | Counter> = Plugin.layer([
        Plugin.load(greeter),
        Plugin.load(counter)
      ])
      const services = Layer.mergeAll(
        Layer.succeed(Greeting, { text: "hello" }),
        Layer.succeed(Counter, { hits })
      )
      const r = yield* Plugin.Registry.pipe(Effect.provide(registry.pipe(Layer.provide(services))))
      expect(r.kinds).toEqual(["counter", "greeter"])
      const g = Option.getOrThrow(r.get("greeter"))
      yield* g.run(Testing.runContext("greeter", { name: "ops" }))
      yield* Option.getOrThrow(r.get("counter")).run(Testing.runContext("counter", {}))
      expect(hits).toEqual(["hello ops", "count"])
      expect(Option.isNone(r.get("python"))).toBe(true)
      expect(
        yield* g.validate({ batchDir: ".", rule: { id: "x", kind: "greeter" }, options: {}, parameters: {} })
      ).toEqual([{ path: ["name"], message: "required field is missing" }])
    }).pipe(Effect.provide(node))
  )

  it.effect("treats a kind registered twice as a defect of assembly", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        Plugin.Registry.pipe(
          Effect.provide(
            Plugin.layer([Plugin.load(Testing.scripted().runner), Plugin.load(Testing.scripted().runner)])
          )
        )
      )
      assert(Exit.isFailure(exit))
      expect(String(exit.cause)).toContain('runner kind "scripted" registered twice')
    })
  )
})

describe("Plugin.checkPackage (a plugin package's `plugin` export)", () => {
  const runner = Testing.scripted().runner
  const good = Plugin.definePackage({ apiVersion: Plugin.apiVersion, runners: [Plugin.entry(runner)] })

  it("takes a package built for this plugin API, its runners usable through `use`", () => {
    const checked = Plugin.checkPackage(good)
    assert.isTrue(Result.isSuccess(checked))
    if (Result.isSuccess(checked))
      expect(checked.success.runners.map((r) => r.use((x) => x.kind))).toEqual(["scripted"])
  })

  it.each([
    [undefined, "exports no `plugin`"],
    [{ runners: [] }, "exports a `plugin` that is not a plugin package: apiVersion: "],
    [{ apiVersion: 1, runners: [{ kind: "Bad Kind", use: () => 0 }] }, "runners[0].kind: a rule kind"],
    [{ apiVersion: 1, runners: [{ kind: "ok" }] }, "runners[0].use: "],
    [{ apiVersion: 2, runners: [] }, "was built for plugin API 2; this spark-etl implements plugin API 1"]
  ] as const)("refuses %j, saying why", (exported, reason) => {
    const checked = Plugin.checkPackage(exported)
    assert.isTrue(Result.isFailure(checked))
    if (Result.isFailure(checked)) expect(checked.failure).toContain(reason)
  })
})

// A runner in plain JavaScript, or one that casts past the types, may fail with anything: core
// receives a failure of its taxonomy all the same, and one with a message.
describe("a runner that breaks the failure contract", () => {
  class OwnError extends Data.TaggedError("OwnError")<{ readonly reason: string }> {}
  const failingWith = (error: unknown) =>
    Plugin.make({
      kind: "rogue",
      options: Schema.Struct({}),
      run: () => Effect.fail(error as Failure.RuleFailure)
    })
  const failureOf = (error: unknown) =>
    Effect.gen(function* () {
      const r = yield* Plugin.Registry.pipe(Effect.provide(Plugin.layer([Plugin.load(failingWith(error))])))
      return yield* Effect.flip(
        Option.getOrThrow(r.get("rogue")).run(Testing.runContext("rogue", {}, { ruleId: "r7" }))
      )
    })

  it.effect("an error of its own: a Defect naming the kind and what it failed with", () =>
    Effect.gen(function* () {
      const failure = yield* failureOf(new OwnError({ reason: "disk full" }))
      expect(failure).toMatchObject({ _tag: "Defect", code: "DEFECT", category: "system", ruleId: "r7" })
      expect(failure.message).toBe(
        'the "rogue" runner broke its contract: it failed with OwnError {"reason":"disk full"}, not a spark-etl failure'
      )
      expect(failure.engineDetail).toContain("disk full")
    })
  )

  it.effect("a plain object: its fields, not [object Object]", () =>
    Effect.gen(function* () {
      const failure = yield* failureOf({ reason: "disk full" })
      expect(failure.message).toBe(
        'the "rogue" runner broke its contract: it failed with {"reason":"disk full"}, not a spark-etl failure'
      )
    })
  )

  it.effect("a failure of the taxonomy without a message: says so, its kind and code kept", () =>
    Effect.gen(function* () {
      const failure = yield* failureOf(new Failure.SqlError({ code: "BAD_SQL", message: " ", ruleId: "r7" }))
      expect(failure).toMatchObject({
        _tag: "SqlError",
        code: "BAD_SQL",
        category: "capturable",
        ruleId: "r7"
      })
      expect(failure.message).toBe('the "rogue" runner gave SqlError BAD_SQL without a message')
    })
  )

  it.effect("a failure with a message is kept as it is", () =>
    Effect.gen(function* () {
      const given = new Failure.DataError({
        code: "DIVIDE_BY_ZERO",
        message: "division by zero",
        ruleId: "r7"
      })
      expect(yield* failureOf(given)).toBe(given)
    })
  )
})
