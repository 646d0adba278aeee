// The infra tool and the test processes hold kafkajs clients: kafkajs' negative-timer warning is
// dropped from their stderr, and any other warning still reaches it.
import { spawnSync } from "node:child_process"
import { describe, expect, it } from "vitest"

const script = `
import { quietKafkajsTimerWarning } from "@spark-etl/testing/warnings"
quietKafkajsTimerWarning()
// What Node raises for kafkajs' negative timer, raised directly (no timer armed).
process.emitWarning("-5 is a negative number.", "TimeoutNegativeWarning")
process.emitWarning("still shown", "OtherWarning")
`

describe("quietKafkajsTimerWarning", () => {
  it("drops TimeoutNegativeWarning and keeps every other warning", () => {
    const run = (code: string) =>
      spawnSync(process.execPath, ["--input-type=module", "-e", code], {
        cwd: import.meta.dirname,
        encoding: "utf8"
      })
    const quiet = run(script)
    expect(quiet.status).toBe(0)
    expect(quiet.stderr).toBe("OtherWarning: still shown\n")
    // Without it, Node prints both: the test above would pass for a warning never raised.
    const loud = run(script.replace("quietKafkajsTimerWarning()\n", ""))
    expect(loud.stderr).toContain("TimeoutNegativeWarning")
    expect(loud.stderr).toContain("OtherWarning: still shown")
  })
})
