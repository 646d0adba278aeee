// The sample job as a scheduler starts it: a child process, judged by output and exit code.
import { execFile } from "node:child_process"
import * as path from "node:path"
import { promisify } from "node:util"
import { describe, expect, inject, it } from "vitest"

const run = promisify(execFile)
const sample = path.resolve(import.meta.dirname, "..", "..", "dist", "sample.js")

describe("sample job", () => {
  it("runs its query on the given Spark and prints the answer", async () => {
    const { stdout } = await run(process.execPath, [sample, "--remote", inject("sparkRemote")])
    expect(JSON.parse(stdout)).toMatchObject({ tool: "spark-etl", total: "500500" })
  })
})
