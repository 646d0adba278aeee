// The guarantee behind "no JVM outlives the test run": a process started under tether.sh
// ends when its parent dies, even by SIGKILL, which no handler can catch.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const tether = path.resolve(import.meta.dirname, "../../../packages/runner-spark-connect/libexec/tether.sh")

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const waitFor = async (check: () => boolean, ms: number) => {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (check()) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return check()
}

describe("tether.sh", () => {
  it("stops the tethered command when its parent is SIGKILLed", async () => {
    // The parent: a Node process that starts `sleep` under the tether; the sleeper writes its pid.
    const pidFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tether-")), "pid")
    const parentScript = `
      const { spawn } = require("node:child_process")
      spawn("sh", [${JSON.stringify(tether)}, "/dev/null", "sh", "-c", "echo $$ > ${pidFile}; exec sleep 300"], { stdio: ["pipe", "ignore", "ignore"] })
      setInterval(() => {}, 1000)`
    const parent = spawn(process.execPath, ["-e", parentScript], { stdio: "ignore" })
    expect(
      await waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").endsWith("\n"), 5000)
    ).toBe(true)
    const sleeperPid = Number(fs.readFileSync(pidFile, "utf8").trim())
    expect(alive(sleeperPid)).toBe(true)
    parent.kill("SIGKILL")
    expect(await waitFor(() => !alive(sleeperPid), 5000)).toBe(true)
  })

  it("passes the command's exit code through", async () => {
    const child = spawn("sh", [tether, "/dev/null", "sh", "-c", "exit 7"], {
      stdio: ["pipe", "ignore", "ignore"]
    })
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve))
    expect(code).toBe(7)
  })
})
