// The exit code flows as a value: the handler returns it, ExitStatus carries it past effect/cli's
// Command.runWith (which returns nothing of a handler), program.ts exits with it.
import * as NodeServices from "@effect/platform-node/NodeServices"
import { ConfigProvider, Console, Effect, Option } from "effect"
import { Command } from "effect/cli"
import { describe, expect, it } from "vitest"
import * as Cli from "../../src/Cli.js"
import * as ExitStatus from "../../src/ExitStatus.js"
import { batchDir, cyclic, twoRules } from "./support.js"

const quiet: Console.Console = { ...globalThis.console, log: () => {}, error: () => {} }

// The command line as program.ts runs it, in an empty environment: the recorded code, or the
// failure effect/cli ended with.
const exitOf = (args: ReadonlyArray<string>) =>
  Effect.runPromise(
    Effect.andThen(Command.runWith(Cli.command, { version: "0" })(args), ExitStatus.get).pipe(
      Effect.result,
      Effect.scoped,
      Effect.provide(ExitStatus.layer),
      Effect.provide(NodeServices.layer),
      Effect.provideService(Console.Console, quiet),
      Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: {} }))
    )
  )

describe("ExitStatus", () => {
  it("records the code a handler returns", async () => {
    const code = await Effect.runPromise(
      Effect.andThen(
        ExitStatus.recorded((n: number) => Effect.succeed(n === 1 ? 1 : 0))(1),
        ExitStatus.get
      ).pipe(Effect.provide(ExitStatus.layer))
    )
    expect(code).toEqual(Option.some(1))
  })

  it("carries each command's code through effect/cli", async () => {
    expect(await exitOf(["validate", batchDir(twoRules).file])).toMatchObject({ success: Option.some(0) })
    expect(await exitOf(["plan", batchDir(cyclic).file])).toMatchObject({ success: Option.some(3) })
    expect(await exitOf(["outbox", "flush", "--state-dir", batchDir(twoRules).dir])).toMatchObject({
      success: Option.some(64)
    })
  })

  it("records nothing when effect/cli refuses the command line (program.ts then exits 64)", async () => {
    const refused = await exitOf(["validate", "--no-such-flag"])
    expect(refused._tag).toBe("Failure")
  })
})
