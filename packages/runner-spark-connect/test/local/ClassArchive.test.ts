// Class data sharing with a real JVM: a recording start leaves an archive that a later start maps;
// a recording cut off by SIGKILL leaves nothing, since a truncated archive would abort the JVM.
import { Effect } from "effect"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import * as ClassArchive from "../../src/local/ClassArchive.js"

let root: string
let jars: string
let main: string

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "class-archive-"))
  jars = path.join(root, "jars")
  fs.mkdirSync(jars)
  main = path.join(root, "Hello.java")
  fs.writeFileSync(
    main,
    `public class Hello {
  public static void main(String[] args) throws Exception {
    System.out.println("hello");
    // "wait": block until stdin closes, so the test kills the JVM while it runs.
    if (args.length > 0) System.in.read();
  }
}
`
  )
})

afterEach(() => {
  vi.unstubAllEnvs()
  fs.rmSync(root, { recursive: true, force: true })
})

// The JDK's source launcher: it loads over a thousand classes of the JDK's compiler.
const java = (flags: ReadonlyArray<string>, ...extra: ReadonlyArray<string>) =>
  spawnSync("java", [...flags, ...extra, "-cp", `${jars}/*`, main], { encoding: "utf8" })

const leftovers = () => fs.readdirSync(root).filter((f) => f.endsWith(".tmp") || f.endsWith(".log"))

describe("ClassArchive", () => {
  it("records the classes at a clean exit, then a later start maps them", async () => {
    const recording = await Effect.runPromise(ClassArchive.prepare(jars))
    expect(recording.flags.some((f) => f.startsWith("-XX:ArchiveClassesAtExit="))).toBe(true)
    const first = java(recording.flags)
    expect(first.status).toBe(0)
    // The recording's warnings stay out of the program's output.
    expect(first.stdout).toBe("hello\n")
    await Effect.runPromise(recording.keep)

    const archive = ClassArchive.archivePath(jars)
    expect(archive).toBeDefined()
    expect(fs.existsSync(archive!)).toBe(true)
    expect(leftovers()).toEqual([])

    const mapped = await Effect.runPromise(ClassArchive.prepare(jars))
    expect(mapped.flags).toEqual([`-XX:SharedArchiveFile=${archive}`])
    expect(await Effect.runPromise(ClassArchive.use(jars))).toEqual(mapped.flags)
    // -Xshare:on fails the start if the archive cannot be mapped; the log names each class's source.
    const second = java(mapped.flags, "-Xshare:on", "-Xlog:class+load=info")
    expect(second.status).toBe(0)
    const fromArchive = second.stdout
      .split("\n")
      .filter((l) => l.includes("source: shared objects file (top)"))
    expect(fromArchive.length).toBeGreaterThan(500)
  }, 60_000)

  it("forServer: the recording is put in place when the caller's scope closes", async () => {
    const archive = ClassArchive.archivePath(jars)!
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const flags = yield* ClassArchive.forServer(jars)
          expect(java(flags).status).toBe(0)
          // Not before the scope closes: the server's own finalizer waits for its JVM first.
          expect(fs.existsSync(archive)).toBe(false)
        })
      )
    )
    expect(fs.existsSync(archive)).toBe(true)
    expect(leftovers()).toEqual([])
    expect(await Effect.runPromise(Effect.scoped(ClassArchive.forServer(jars)))).toEqual([
      `-XX:SharedArchiveFile=${archive}`
    ])
  }, 60_000)

  it("a recording JVM killed before its exit leaves no archive and no temporary file", async () => {
    const recording = await Effect.runPromise(ClassArchive.prepare(jars))
    const child = spawn("java", [...recording.flags, "-cp", `${jars}/*`, main, "wait"], {
      stdio: ["pipe", "pipe", "ignore"]
    })
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("hello")) resolve()
      })
      child.on("exit", () => reject(new Error("java exited before it printed hello")))
    })
    const exited = new Promise((resolve) => child.on("exit", resolve))
    child.kill("SIGKILL")
    await exited
    await Effect.runPromise(recording.keep)

    expect(fs.existsSync(ClassArchive.archivePath(jars)!)).toBe(false)
    expect(leftovers()).toEqual([])
    // The next start records again.
    const next = await Effect.runPromise(ClassArchive.prepare(jars))
    expect(next.flags.some((f) => f.startsWith("-XX:ArchiveClassesAtExit="))).toBe(true)
  }, 60_000)

  it("SPARK_ETL_CLASS_ARCHIVE=off: no flags, nothing recorded", async () => {
    vi.stubEnv("SPARK_ETL_CLASS_ARCHIVE", "off")
    const off = await Effect.runPromise(ClassArchive.prepare(jars))
    expect(off.flags).toEqual([])
    expect(await Effect.runPromise(ClassArchive.use(jars))).toEqual([])
    expect(java(off.flags).status).toBe(0)
    await Effect.runPromise(off.keep)
    expect(fs.readdirSync(root).sort()).toEqual(["Hello.java", "jars"])
  }, 60_000)

  it("SPARK_ETL_CLASS_ARCHIVE neither on nor off: refused, naming the variable and its value", async () => {
    vi.stubEnv("SPARK_ETL_CLASS_ARCHIVE", "false")
    const expected = {
      _tag: "ClassArchiveError",
      message: 'SPARK_ETL_CLASS_ARCHIVE: "false" is neither on nor off'
    }
    expect(await Effect.runPromise(Effect.flip(ClassArchive.prepare(jars)))).toMatchObject(expected)
    expect(await Effect.runPromise(Effect.flip(ClassArchive.use(jars)))).toMatchObject(expected)
    vi.stubEnv("SPARK_ETL_CLASS_ARCHIVE", "on")
    expect((await Effect.runPromise(ClassArchive.prepare(jars))).flags).not.toEqual([])
    // What a caller checks before it starts a server: unset and empty count as on.
    expect(["on", "off", "", undefined].map(ClassArchive.problemOf)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined
    ])
    expect(ClassArchive.problemOf("On")).toBe('"On" is neither on nor off')
  })

  it("a folder that cannot keep an archive: no flags", async () => {
    const missing = path.join(root, "absent", "jars")
    const none = await Effect.runPromise(ClassArchive.prepare(missing))
    expect(none.flags).toEqual([])
    expect(await Effect.runPromise(ClassArchive.use(missing))).toEqual([])
  })
})
