import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as Locations from "../src/Locations.js"

describe("Locations.check", () => {
  it("names the path, the setting and the system's reason once (no 'ENOTDIR: ENOTDIR:')", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-locations-"))
    const file = path.join(dir, "a-file")
    fs.writeFileSync(file, "")
    const failure = await Effect.runPromise(
      Effect.flip(Locations.check([{ path: file, setting: "--state-dir", kind: "directory" }]))
    )
    expect(failure.code).toBe("LOCATION_UNWRITABLE")
    const issue = failure.issues[0]
    expect(issue).toMatchObject({ file, field: "--state-dir" })
    expect(issue?.message).toMatch(new RegExp(`^${file} is not a writable directory \\((EEXIST|ENOTDIR): `))
    expect(issue?.message.match(/E[A-Z]+: /g)).toHaveLength(1)
  })

  it("accepts a directory that takes a write, and leaves no probe file in it", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-locations-"))
    await Effect.runPromise(Locations.check([{ path: dir, setting: "--log-dir", kind: "directory" }]))
    expect(fs.readdirSync(dir)).toEqual([])
  })
})
