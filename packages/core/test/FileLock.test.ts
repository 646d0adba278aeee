// FileLock and AtomicFile in one process, on the real filesystem: the lock's content, when it
// is stale, that a late waiter never breaks a newer lock, that a breaker's abandoned claim does
// not wedge the lock, release and refresh; and durable atomic writes.
import { NodeFileSystem } from "@effect/platform-node"
import { afterAll, assert, describe, expect, layer } from "@effect/vitest"
import { until } from "@spark-etl/testing"
import { Effect, Exit, Fiber, FileSystem, Latch, Option, Scope } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as AtomicFile from "../src/internal/atomicFile.js"
import * as FileLock from "../src/internal/fileLock.js"
import { tempDirs } from "./support.js"

const dirs = tempDirs("core-filelock-")
afterAll(dirs.removeAll)
const tempDir = dirs.make

const deadPid = Effect.promise(
  () =>
    new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ["-e", ""])
      child.on("exit", () => resolve(child.pid!))
    })
)

// A lock as FileLock writes it, optionally made older than it is.
const writeLock = (file: string, pid: number, host: string, ageMs = 0) => {
  fs.writeFileSync(
    file,
    JSON.stringify({ pid, host, token: crypto.randomUUID(), createdAt: new Date().toISOString() })
  )
  const at = new Date(Date.now() - ageMs)
  fs.utimesSync(file, at, at)
}

const readJson = (file: string): unknown => JSON.parse(fs.readFileSync(file, "utf8"))

layer(NodeFileSystem.layer, { excludeTestServices: true })("FileLock", (it) => {
  it.effect("writes its owner and the caller's fields, never an empty file, and releases only its own", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const file = path.join(dir, "lock")
      const attempt = yield* FileLock.tryAcquire(file, { fields: { runId: "r1" } })
      assert(attempt._tag === "Acquired")
      expect(readJson(file)).toEqual({
        runId: "r1",
        pid: process.pid,
        host: os.hostname(),
        token: attempt.lock.owner.token,
        createdAt: attempt.lock.owner.createdAt
      })
      expect(fs.readdirSync(dir)).toEqual(["lock"])

      // Taken from us (broken as stale, then taken by another): release leaves theirs alone.
      writeLock(file, 4242, "elsewhere")
      yield* FileLock.release(attempt.lock)
      expect(readJson(file)).toMatchObject({ pid: 4242 })
      fs.rmSync(file)

      const again = yield* FileLock.tryAcquire(file)
      assert(again._tag === "Acquired")
      yield* FileLock.release(again.lock)
      expect(fs.readdirSync(dir)).toEqual([])
    })
  )

  it.effect("is held by a live owner, and by a dead pid of another host, while refreshed", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const file = path.join(dir, "lock")
      writeLock(file, process.pid, os.hostname())
      const live = yield* FileLock.tryAcquire(file)
      assert(live._tag === "Held" && Option.isSome(live.holder))
      expect(Option.map(live.holder.value.holder, (h) => h.pid)).toEqual(Option.some(process.pid))

      // A pid of another host says nothing here: only its age can make it stale.
      writeLock(file, yield* deadPid, "elsewhere")
      expect((yield* FileLock.tryAcquire(file))._tag).toBe("Held")
      expect(readJson(file)).toMatchObject({ host: "elsewhere" })
    })
  )

  it.effect("breaks a lock whose owner is gone from this host, or that went unrefreshed, once", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const file = path.join(dir, "lock")
      const broken: Array<string> = []
      const onBreak = (stale: FileLock.Seen) =>
        Effect.sync(() => void broken.push(FileLock.describe(stale.holder)))

      const dead = yield* deadPid
      writeLock(file, dead, os.hostname())
      const first = yield* FileLock.tryAcquire(file, { onBreak })
      assert(first._tag === "Acquired")
      yield* FileLock.release(first.lock)

      writeLock(file, process.pid, "elsewhere", 60_000)
      const second = yield* FileLock.tryAcquire(file, { onBreak, staleAfter: "30 seconds" })
      assert(second._tag === "Acquired")
      // Unreadable (a foreign or torn file): by age alone, too.
      yield* FileLock.release(second.lock)
      fs.writeFileSync(file, "")
      expect((yield* FileLock.tryAcquire(file, { onBreak }))._tag).toBe("Held")
      const old = new Date(Date.now() - 60_000)
      fs.utimesSync(file, old, old)
      expect((yield* FileLock.tryAcquire(file, { onBreak }))._tag).toBe("Acquired")

      expect(broken).toEqual([
        expect.stringMatching(new RegExp(`^pid ${dead} on ${os.hostname()} since `)),
        expect.stringMatching(new RegExp(`^pid ${process.pid} on elsewhere since `)),
        "an unknown holder (unreadable lock)"
      ])
      expect(fs.readdirSync(dir)).toEqual(["lock"])
    })
  )

  it.effect("never lets a late waiter break the lock that replaced the stale one it saw", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const file = path.join(dir, "lock")
      writeLock(file, yield* deadPid, os.hostname())
      // Two waiters saw the same stale lock; the first breaks it and takes the lock.
      const seen = Option.getOrThrow(yield* FileLock.inspect(file))
      expect(FileLock.isStale(seen)).toBe(true)
      expect(yield* FileLock.breakStale(seen)).toBe(true)
      const taken = yield* FileLock.tryAcquire(file)
      assert(taken._tag === "Acquired")
      // The second acts on what it saw: nothing happens to the new holder's lock.
      expect(yield* FileLock.breakStale(seen)).toBe(false)
      expect(readJson(file)).toMatchObject({ token: taken.lock.owner.token })
      expect(fs.readdirSync(dir)).toEqual(["lock"])
    })
  )

  it.effect("waits for a breaker at work, and steps in for one that died while breaking", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const file = path.join(dir, "lock")
      writeLock(file, yield* deadPid, os.hostname())
      const seen = Option.getOrThrow(yield* FileLock.inspect(file))
      const claim = `${file}.break.${seen.identity}`
      // A live breaker's claim: the stale lock is its to break, not ours.
      writeLock(claim, process.pid, os.hostname())
      expect((yield* FileLock.tryAcquire(file))._tag).toBe("Held")
      expect(fs.existsSync(file)).toBe(true)
      // Its breaker died half-way: the claim is stale in turn, broken, then the lock.
      writeLock(claim, yield* deadPid, os.hostname())
      const attempt = yield* FileLock.tryAcquire(file)
      assert(attempt._tag === "Acquired")
      expect(fs.readdirSync(dir)).toEqual(["lock"])
    })
  )

  it.effect("waits for a holder up to `wait`, keeps a held lock fresh, and releases it with the scope", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const file = path.join(dir, "lock")
      const staleAfter = "300 millis"
      const scope = yield* Scope.make()
      const lock = yield* FileLock.acquire(file, { staleAfter, refreshEvery: "50 millis" }).pipe(
        Scope.provide(scope)
      )
      // Refreshed after the moment it would have gone stale, were it not refreshed.
      const createdAt = Date.parse(lock.owner.createdAt)
      yield* until(
        Effect.sync(() => fs.statSync(file).mtimeMs > createdAt + 300),
        { what: "the held lock to be refreshed past staleAfter", within: "10 seconds", every: "20 millis" }
      )
      const busy = yield* Effect.flip(
        Effect.scoped(FileLock.acquire(file, { staleAfter, wait: "100 millis" }))
      )
      assert(busy._tag === "LockBusy")
      expect(busy.message).toMatch(new RegExp(`held by pid ${process.pid} on ${os.hostname()} since`))
      expect(readJson(file)).toMatchObject({ token: lock.owner.token })

      // Released while the other waits (its attempt to create the lock found it held): the
      // other gets it.
      const waiting = yield* Latch.make(false)
      const next = yield* Effect.scoped(
        FileLock.acquire(file, { staleAfter, wait: "10 seconds" }).pipe(
          Effect.map((l) => (readJson(file) as { token: string }).token === l.owner.token)
        )
      ).pipe(
        Effect.updateService(FileSystem.FileSystem, (files) => ({
          ...files,
          link: (from, to) => files.link(from, to).pipe(Effect.tapError(() => waiting.open))
        })),
        Effect.forkChild
      )
      yield* waiting.await.pipe(Effect.timeout("10 seconds"))
      yield* Scope.close(scope, Exit.void)
      expect(yield* Fiber.join(next)).toBe(true)
      expect(fs.readdirSync(dir)).toEqual([])
    })
  )

  it.effect("tells a live process of this host from a gone one", () =>
    Effect.gen(function* () {
      expect(FileLock.processIsAlive(process.pid)).toBe(true)
      expect(FileLock.processIsAlive(yield* deadPid)).toBe(false)
      // 0 and negative pids name process groups, never an owner.
      expect([0, -1, 1.5, Number.NaN].map(FileLock.processIsAlive)).toEqual([false, false, false, false])
    })
  )
})

layer(NodeFileSystem.layer, { excludeTestServices: true })("AtomicFile", (it) => {
  it.effect("replaces a file whole, creates a missing one, and leaves no temporary file", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const file = path.join(dir, "state.json")
      yield* AtomicFile.write(file, "one")
      yield* AtomicFile.write(file, new TextEncoder().encode("two"))
      expect(fs.readFileSync(file, "utf8")).toBe("two")
      yield* AtomicFile.append(file, "+three")
      expect(fs.readFileSync(file, "utf8")).toBe("two+three")
      expect(fs.readdirSync(dir)).toEqual(["state.json"])
      yield* AtomicFile.remove(file)
      yield* AtomicFile.remove(file)
      expect(fs.readdirSync(dir)).toEqual([])
    })
  )

  it.effect("fails naming the file, leaving the old content and no temporary file", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const file = path.join(dir, "state.json")
      fs.writeFileSync(file, "old")
      // A directory where the file should be renamed to: the rename fails after the write.
      const blocked = path.join(dir, "blocked")
      fs.mkdirSync(path.join(blocked, "inner"), { recursive: true })
      const error = yield* Effect.flip(AtomicFile.write(blocked, "new"))
      expect(error).toMatchObject({ _tag: "AtomicFileError", path: blocked })
      const missing = yield* Effect.flip(AtomicFile.write(path.join(dir, "no", "such"), "x"))
      expect(missing._tag).toBe("AtomicFileError")
      expect(fs.readFileSync(file, "utf8")).toBe("old")
      expect(fs.readdirSync(dir).sort()).toEqual(["blocked", "state.json"])
    })
  )
})

describe("FileLock.isStale", () => {
  const seen = (holder: Option.Option<FileLock.Holder>, ageMs: number): FileLock.Seen => ({
    path: "/x/lock",
    text: "",
    holder,
    ageMs,
    identity: "i"
  })
  const options = { host: "here", staleAfter: 1000, isAlive: (pid: number) => pid === 1 }

  layer(NodeFileSystem.layer)((it) => {
    it.effect("judges the pid on its own host only, and any lock by its age", () =>
      Effect.sync(() => {
        expect(FileLock.isStale(seen(Option.some({ pid: 1, host: "here" }), 0), options)).toBe(false)
        expect(FileLock.isStale(seen(Option.some({ pid: 2, host: "here" }), 0), options)).toBe(true)
        expect(FileLock.isStale(seen(Option.some({ pid: 2, host: "there" }), 999), options)).toBe(false)
        expect(FileLock.isStale(seen(Option.some({ pid: 1, host: "here" }), 1000), options)).toBe(true)
        expect(FileLock.isStale(seen(Option.none(), 999), options)).toBe(false)
        expect(FileLock.isStale(seen(Option.none(), 1000), options)).toBe(true)
      })
    )
  })
})
