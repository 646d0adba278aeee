// A command run to its end keeps stdout and stderr apart, and a failed one is quoted by what it
// said: the message an operator reads when an image build or openssl fails.
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import * as Exec from "../src/Exec.js"

const run = <A, E>(effect: Effect.Effect<A, E, NodeServices.NodeServices>) =>
  Effect.runPromiseExit(effect.pipe(Effect.provide(NodeServices.layer)))

describe("Exec.toEnd", () => {
  it("keeps stdout, stderr and the exit code apart, with the extra environment passed", async () => {
    const exit = await run(
      Exec.toEnd("sh", ["-c", 'echo "out $GREETING"; echo err >&2; exit 3'], { GREETING: "hello" })
    )
    expect(exit).toStrictEqual(Exit.succeed({ stdout: "out hello\n", stderr: "err\n", exitCode: 3 }))
  })

  it("quotes stderr when there is any, else stdout, keeping the end of it", () => {
    expect(Exec.said({ stdout: "progress\n", stderr: "tar: no space left\n", exitCode: 2 })).toBe(
      "tar: no space left"
    )
    expect(Exec.said({ stdout: "only this\n", stderr: "  \n", exitCode: 1 })).toBe("only this")
    expect(Exec.said({ stdout: "", stderr: "abcdef", exitCode: 1 }, 3)).toBe("def")
  })

  it("fails when the command cannot be run at all", async () => {
    const exit = await run(Exec.toEnd("spark-etl-no-such-command", []))
    expect(Exit.isFailure(exit)).toBe(true)
  })
})

describe("Exec.stdoutOf", () => {
  it("returns stdout only, so a warning on stderr never reaches a parsed value", async () => {
    const exit = await run(Exec.stdoutOf("sh", ["-c", "echo warning >&2; echo 42"]))
    expect(exit).toStrictEqual(Exit.succeed("42\n"))
  })

  it("fails naming the command, its exit code and what it said", async () => {
    const exit = await run(Exec.stdoutOf("sh", ["-c", "echo started; echo 'disk full' >&2; exit 4"]))
    expect(exit).toStrictEqual(Exit.fail(new Exec.ExecError({ message: "sh -c exited with 4: disk full" })))
  })

  it("fails naming the command when it cannot be run", async () => {
    const exit = await run(Exec.stdoutOf("spark-etl-no-such-command", ["x"]))
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain("cannot run spark-etl-no-such-command")
  })
})
