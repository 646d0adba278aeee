// The outbox on the real filesystem: order, fsync'd appends, chunked drains that stop at the
// first failure, quarantine of corrupt lines, and the lock shared with other processes.
import { NodeFileSystem } from "@effect/platform-node"
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as CloudEvent from "../src/CloudEvent.js"
import * as Outbox from "../src/internal/outbox.js"
import { batchEvent, problems } from "./support/fixtures.js"

const tempOutbox = () =>
  path.join(fs.mkdtempSync(path.join(os.tmpdir(), "outbox-")), "nested", "outbox.jsonl")

const records = (n: number, batch = "daily_sales") =>
  Effect.forEach(
    Array.from({ length: n }, (_, i) => i),
    (i) => CloudEvent.fromEvent(batchEvent({ batch, parameters: { n: String(i) } }), { maxDetailBytes: 1024 })
  )

// A lock as FileLock writes it (core's `@spark-etl/core/fs`).
const ownedBy = (pid: number, host = os.hostname()) =>
  JSON.stringify({ pid, host, token: crypto.randomUUID(), createdAt: new Date().toISOString() })

class Refused {
  readonly _tag = "Refused"
}

layer(NodeFileSystem.layer, { excludeTestServices: true })("Outbox", (it) => {
  it.effect("appends one event per line and drains them in order", () =>
    Effect.gen(function* () {
      const outbox = yield* Outbox.make(tempOutbox())
      expect(yield* outbox.isEmpty).toBe(true)
      const all = yield* records(7)
      yield* outbox.append(all.slice(0, 3))
      yield* outbox.append(all.slice(3))
      expect(yield* outbox.isEmpty).toBe(false)
      const lines = fs.readFileSync(outbox.path, "utf8").split("\n")
      expect(lines).toHaveLength(8)
      expect(lines[7]).toBe("")
      for (const line of lines.slice(0, 7)) expect(problems(line)).toEqual([])

      const delivered: Array<CloudEvent.KafkaRecord> = []
      const result = yield* outbox.drain((chunk) => Effect.sync(() => void delivered.push(...chunk)), {
        chunkSize: 3
      })
      expect(result).toEqual({ delivered: 7, remaining: 0, quarantined: 0, failure: Option.none() })
      expect(delivered).toEqual(all)
      expect(yield* outbox.isEmpty).toBe(true)
      expect(fs.existsSync(outbox.path)).toBe(false)
    })
  )

  it.effect("bounds each chunk in bytes too, and still sends an event bigger than the bound", () =>
    Effect.gen(function* () {
      const outbox = yield* Outbox.make(tempOutbox())
      const all = yield* records(6)
      yield* outbox.append(all)
      const size = Buffer.byteLength(all[0]!.value, "utf8")
      const chunks: Array<number> = []
      yield* outbox.drain((chunk) => Effect.sync(() => void chunks.push(chunk.length)), {
        chunkBytes: size * 2 + 10
      })
      expect(chunks).toEqual([2, 2, 2])
      yield* outbox.append(all)
      const single: Array<number> = []
      yield* outbox.drain((chunk) => Effect.sync(() => void single.push(chunk.length)), { chunkBytes: 1 })
      expect(single).toEqual([1, 1, 1, 1, 1, 1])
    })
  )

  it.effect("keeps what was not acknowledged, in order, when delivery fails midway", () =>
    Effect.gen(function* () {
      const outbox = yield* Outbox.make(tempOutbox())
      const all = yield* records(5)
      yield* outbox.append(all)
      let calls = 0
      const result = yield* outbox.drain(
        (_chunk) => (++calls === 2 ? Effect.fail(new Refused()) : Effect.void),
        { chunkSize: 2 }
      )
      expect(result.delivered).toBe(2)
      expect(result.remaining).toBe(3)
      expect(Option.getOrUndefined(result.failure)).toBeInstanceOf(Refused)
      const left = yield* outbox.read
      expect(left.entries.map((e) => e.record)).toEqual(all.slice(2))
      expect(left.entries.map((e) => e.line)).toEqual([1, 2, 3])
    })
  )

  it.effect("quarantines corrupt and torn lines without blocking the others", () =>
    Effect.gen(function* () {
      const outbox = yield* Outbox.make(tempOutbox())
      const [a, b, c] = yield* records(3)
      yield* outbox.append([a!])
      fs.appendFileSync(outbox.path, "this is not json\n")
      yield* outbox.append([b!])
      fs.appendFileSync(outbox.path, `${JSON.stringify({ specversion: "1.0", type: "com.example" })}\n`)
      yield* outbox.append([c!])
      fs.appendFileSync(outbox.path, c!.value.slice(0, 40)) // a torn append: no newline

      const contents = yield* outbox.read
      expect(contents.entries).toHaveLength(3)
      expect(contents.corrupt.map((x) => x.line)).toEqual([2, 4, 6])

      const delivered: Array<CloudEvent.KafkaRecord> = []
      const result = yield* outbox.drain((chunk) => Effect.sync(() => void delivered.push(...chunk)))
      expect(result).toMatchObject({ delivered: 3, remaining: 0, quarantined: 3 })
      expect(delivered).toEqual([a, b, c])
      const quarantined = fs
        .readFileSync(outbox.quarantinePath, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { line: number; reason: string; text: string; outbox: string })
      expect(quarantined.map((q) => q.line)).toEqual([2, 4, 6])
      expect(quarantined[0]).toMatchObject({ text: "this is not json", outbox: outbox.path })
      expect(quarantined[0]!.reason).toMatch(/not a spark-etl CloudEvent/)
      expect(quarantined[2]!.reason).toMatch(/incomplete last line/)
    })
  )

  it.effect("quarantines corrupt lines even when delivery then fails", () =>
    Effect.gen(function* () {
      const outbox = yield* Outbox.make(tempOutbox())
      const [a] = yield* records(1)
      fs.mkdirSync(path.dirname(outbox.path), { recursive: true })
      fs.writeFileSync(outbox.path, `garbage\n${a!.value}\n`)
      const result = yield* outbox.drain(() => Effect.fail(new Refused()))
      expect(result).toMatchObject({ delivered: 0, remaining: 1, quarantined: 1 })
      expect(fs.readFileSync(outbox.path, "utf8")).toBe(`${a!.value}\n`)
    })
  )

  it.effect("breaks the lock of a dead process, and waits for a live one", () =>
    Effect.gen(function* () {
      const outbox = yield* Outbox.make(tempOutbox(), { lockWait: "300 millis" })
      const [a] = yield* records(1)
      fs.mkdirSync(path.dirname(outbox.path), { recursive: true })
      const dead = spawn(process.execPath, ["-e", ""])
      yield* Effect.promise(() => new Promise((resolve) => dead.on("exit", resolve)))
      fs.writeFileSync(`${outbox.path}.lock`, ownedBy(dead.pid!))
      yield* outbox.append([a!])
      expect(fs.existsSync(`${outbox.path}.lock`)).toBe(false)

      const alive = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"])
      fs.writeFileSync(`${outbox.path}.lock`, ownedBy(alive.pid!))
      const error = yield* outbox
        .append([a!])
        .pipe(Effect.flip, Effect.ensuring(Effect.sync(() => alive.kill())))
      expect(error).toMatchObject({ _tag: "OutboxError", operation: "lock", path: `${outbox.path}.lock` })
      expect(error.message).toMatch(/another process held the outbox lock/)
      expect((yield* outbox.read).entries).toHaveLength(1)
    })
  )

  it.effect("names its host in the lock, and breaks another host's only once it went unrefreshed", () =>
    Effect.gen(function* () {
      const outbox = yield* Outbox.make(tempOutbox(), { lockWait: "200 millis" })
      const [a] = yield* records(1)
      const lock = `${outbox.path}.lock`
      fs.mkdirSync(path.dirname(outbox.path), { recursive: true })
      // A pid that is dead here says nothing about a process on another host.
      fs.writeFileSync(lock, ownedBy(999_999, "elsewhere"))
      const error = yield* outbox.append([a!]).pipe(Effect.flip)
      expect(error.message).toMatch(/another process held the outbox lock \(pid 999999 on elsewhere/)
      // Not refreshed for longer than staleAfter (30 s): its holder is gone, wherever it ran.
      const old = new Date(Date.now() - 60_000)
      fs.utimesSync(lock, old, old)
      yield* outbox.append([a!])
      // So is an older version's lock (a bare pid, no host), judged by age alone.
      fs.writeFileSync(lock, "12345\n")
      fs.utimesSync(lock, old, old)
      yield* outbox.append([a!])
      expect((yield* outbox.read).entries).toHaveLength(2)

      // While held, the lock names this process and host, with a token of this acquisition.
      const seen: Array<unknown> = []
      yield* outbox.drain((batch) =>
        Effect.sync(() => {
          seen.push(JSON.parse(fs.readFileSync(lock, "utf8")))
          return batch
        })
      )
      expect(seen[0]).toEqual({
        pid: process.pid,
        host: os.hostname(),
        token: expect.stringMatching(/^[0-9a-f-]{36}$/),
        createdAt: expect.any(String)
      })
      expect(fs.readdirSync(path.dirname(outbox.path)).filter((f) => f.startsWith("outbox.jsonl."))).toEqual(
        []
      )
    })
  )

  it.effect("fails with a clear error when the outbox cannot be written", () =>
    Effect.gen(function* () {
      const blocker = fs.mkdtempSync(path.join(os.tmpdir(), "outbox-"))
      fs.writeFileSync(path.join(blocker, "file"), "")
      const outbox = yield* Outbox.make(path.join(blocker, "file", "outbox.jsonl"))
      const [a] = yield* records(1)
      const error = yield* outbox.append([a!]).pipe(Effect.flip)
      expect(error._tag).toBe("OutboxError")
      expect(error.message.length).toBeGreaterThan(0)
    })
  )
})

describe("Outbox line format", () => {
  it("is the structured CloudEvent itself, so an operator can replay a line with any client", () => {
    expect(CloudEvent.contentType).toBe("application/cloudevents+json; charset=utf-8")
  })
})

describe("Outbox.chunks", () => {
  const sized = (kib: number) => ({ value: "x".repeat(kib * 1024) })
  it("cuts records in order into produce requests of at most 512 KiB, a bigger record alone", () => {
    const lengths = (kibs: ReadonlyArray<number>) =>
      Outbox.chunks(kibs.map(sized), (r) => r).map((chunk) => chunk.map((r) => r.value.length / 1024))
    expect(lengths([200, 200, 200, 100])).toEqual([
      [200, 200],
      [200, 100]
    ])
    expect(lengths([600, 10, 10])).toEqual([[600], [10, 10]])
    expect(lengths([])).toEqual([])
  })

  it("puts at most 500 records in one request", () => {
    const cut = Outbox.chunks(
      Array.from({ length: 1001 }, () => ({ value: "{}" })),
      (r) => r
    )
    expect(cut.map((chunk) => chunk.length)).toEqual([500, 500, 1])
  })
})
