// `infra SERVICE start --port N` (README: "a free port (`--port N` to choose)"): the server
// listens on that port, `status` asks it there, `stop` ends it. PostgreSQL: the quickest to start.
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { infraCli } from "./support/infraCli.js"

const infra = (cwd: string, args: ReadonlyArray<string>) => infraCli(args, { cwd, timeout: 120_000 })

// A port free a moment ago: bound, then closed.
const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

describe("infra postgres start --port", () => {
  it("listens on the port given; status answers there; stop ends it", async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "infra-port-"))
    // Started as root, PostgreSQL runs as "postgres", who must be able to enter the folder.
    fs.chmodSync(cwd, 0o755)
    const port = await freePort()
    const started = await infra(cwd, ["postgres", "start", "--port", String(port)])
    expect(started.code, started.stderr).toBe(0)
    try {
      expect(started.stdout.trim()).toBe(`postgresql://spark_etl@127.0.0.1:${port}/postgres`)
      const status = await infra(cwd, ["postgres", "status"])
      expect(status.code, status.stderr).toBe(0)
      expect(status.stdout).toMatch(
        new RegExp(
          `^postgres: up at postgresql://spark_etl@127\\.0\\.0\\.1:${port}/postgres .*PostgreSQL \\d+`
        )
      )
    } finally {
      const stopped = await infra(cwd, ["postgres", "stop"])
      expect(stopped.stdout.trim()).toBe("postgres: stopped")
    }
    const after = await infra(cwd, ["postgres", "status"])
    expect(after.code).toBe(3)
    expect(after.stderr.trim()).toBe("infra: postgres: not running")
  })
})
