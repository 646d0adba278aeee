// readTopic's failures name their cause: a missing kcat once read "kcat failed (null): undefined".
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, expect, it } from "vitest"
import { readTopic } from "../src/Kafka.js"

const pathBefore = process.env["PATH"]

afterEach(() => {
  process.env["PATH"] = pathBefore
})

it("says kcat could not be started when it is not on PATH", () => {
  process.env["PATH"] = fs.mkdtempSync(path.join(os.tmpdir(), "no-kcat-"))
  expect(() => readTopic("127.0.0.1:1", "any")).toThrow(
    /^kcat did not run to its end: spawnSync kcat ENOENT$/
  )
})
