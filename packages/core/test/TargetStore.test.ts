import { afterAll, assert, describe, expect, it } from "@effect/vitest"
import * as NodePath from "@effect/platform-node/NodePath"
import { Effect, Exit, FileSystem, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as TargetStore from "../src/TargetStore.js"
import { node, tempDirs } from "./support.js"

// A real temporary tree: <tmp>/batch (the batch file's dir), <tmp>/out (the root), <tmp>/outside.
const dirs = tempDirs("core-targets-")
afterAll(dirs.removeAll)
const tree = () => {
  const tmp = fs.realpathSync(dirs.make())
  for (const d of ["batch", "out", "outside"]) fs.mkdirSync(path.join(tmp, d))
  fs.writeFileSync(path.join(tmp, "outside", "precious.txt"), "keep me")
  return {
    tmp,
    base: path.join(tmp, "batch"),
    out: path.join(tmp, "out"),
    outside: path.join(tmp, "outside")
  }
}

const store = Layer.provide(TargetStore.layerFileSystem, node)

const check = (baseDir: string, roots: ReadonlyArray<string>, targets: ReadonlyArray<[string, string]>) =>
  Effect.gen(function* () {
    const s = yield* TargetStore.TargetStore
    return yield* Effect.exit(
      s.check({ baseDir, roots, targets: targets.map(([ruleId, declared]) => ({ ruleId, declared })) })
    )
  }).pipe(Effect.provide(store))

const rejections = (exit: Exit.Exit<TargetStore.Resolved, ReadonlyArray<TargetStore.Rejection>>) => {
  const error = Exit.findErrorOption(exit)
  assert(error._tag === "Some", "expected the targets to be refused")
  return error.value.map((r) => `${r.at._tag === "Root" ? `root ${r.at.index}` : r.at.ruleId}: ${r.message}`)
}

describe("TargetStore (filesystem)", () => {
  it.effect("accepts targets inside a root, resolving them from the batch file's directory", () =>
    Effect.gen(function* () {
      const t = tree()
      const exit = yield* check(
        t.base,
        ["../out"],
        [
          ["a", "../out/a"],
          ["b", `${t.out}/nested/b`]
        ]
      )
      assert(Exit.isSuccess(exit))
      expect(exit.value).toEqual({
        roots: [t.out],
        targets: [
          { ruleId: "a", declared: "../out/a", location: path.join(t.out, "a") },
          { ruleId: "b", declared: `${t.out}/nested/b`, location: path.join(t.out, "nested/b") }
        ]
      })
    })
  )

  it.effect("refuses a target outside the roots", () =>
    Effect.gen(function* () {
      const t = tree()
      expect(rejections(yield* check(t.base, ["../out"], [["a", t.outside]]))).toEqual([
        `a: target "${t.outside}" is outside the declared target roots`
      ])
    })
  )

  it.effect("refuses the root itself", () =>
    Effect.gen(function* () {
      const t = tree()
      expect(rejections(yield* check(t.base, ["../out"], [["a", "../out/"]]))).toEqual([
        'a: target "../out/" is a target root itself; deleting it would delete every target'
      ])
    })
  )

  it.effect("refuses a '..' escape", () =>
    Effect.gen(function* () {
      const t = tree()
      expect(rejections(yield* check(t.base, ["../out"], [["a", "../out/x/../../outside"]]))).toEqual([
        'a: target "../out/x/../../outside" escapes the declared target roots through ".." (to ../outside)'
      ])
    })
  )

  it.effect("refuses a path through a symlink that resolves outside the roots", () =>
    Effect.gen(function* () {
      const t = tree()
      fs.symlinkSync(t.outside, path.join(t.out, "link"))
      expect(rejections(yield* check(t.base, ["../out"], [["a", "../out/link/data"]]))).toEqual([
        'a: target "../out/link/data" resolves through a symlink to ../outside/data, outside the declared target roots'
      ])
    })
  )

  it.effect("refuses a target that is itself a symlink to outside the roots", () =>
    Effect.gen(function* () {
      const t = tree()
      fs.symlinkSync(path.join(t.outside, "precious.txt"), path.join(t.out, "file-link"))
      expect(rejections(yield* check(t.base, ["../out"], [["a", "../out/file-link"]]))).toEqual([
        'a: target "../out/file-link" resolves through a symlink to ../outside/precious.txt, outside the declared target roots'
      ])
    })
  )

  it.effect("judges a target by lstat when its directory cannot be listed", () =>
    Effect.gen(function* () {
      const t = tree()
      fs.symlinkSync(path.join(t.outside, "precious.txt"), path.join(t.out, "file-link"))
      // A filesystem where no directory can be listed (as an execute-only one cannot).
      const unlistable = Layer.effect(
        FileSystem.FileSystem,
        Effect.map(FileSystem.FileSystem, (real) => ({
          ...real,
          readDirectoryEntries: () => real.readDirectoryEntries(path.join(t.tmp, "no-such-dir"))
        }))
      ).pipe(Layer.provide(node))
      const exit = yield* Effect.gen(function* () {
        const s = yield* TargetStore.TargetStore
        return yield* Effect.exit(
          s.check({
            baseDir: t.base,
            roots: ["../out"],
            targets: [{ ruleId: "a", declared: "../out/file-link" }]
          })
        )
      }).pipe(
        Effect.provide(Layer.provide(TargetStore.layerFileSystem, Layer.mergeAll(unlistable, NodePath.layer)))
      )
      expect(rejections(exit)).toEqual([
        'a: target "../out/file-link" resolves through a symlink to ../outside/precious.txt, outside the declared target roots'
      ])
    })
  )

  it.effect("accepts a symlinked root, judging targets by where the root really is", () =>
    Effect.gen(function* () {
      const t = tree()
      fs.symlinkSync(t.out, path.join(t.tmp, "out-link"))
      const exit = yield* check(t.base, ["../out-link"], [["a", "../out-link/a"]])
      assert(Exit.isSuccess(exit))
    })
  )

  it.effect("refuses overlapping and shared targets", () =>
    Effect.gen(function* () {
      const t = tree()
      const exit = yield* check(
        t.base,
        ["../out"],
        [
          ["sales", "../out/sales"],
          ["sales_eu", "../out/sales/eu"],
          ["copy", "../out/sales"]
        ]
      )
      expect(rejections(exit)).toEqual([
        'copy: target "../out/sales" is also the target of rule "sales"',
        'sales_eu: target "../out/sales/eu" lies inside the target of rule "sales"; targets must not overlap'
      ])
    })
  )

  it.effect("refuses a missing root and the filesystem root", () =>
    Effect.gen(function* () {
      const t = tree()
      expect(rejections(yield* check(t.base, ["../missing", "/"], [["a", "../out/a"]]))).toEqual([
        'root 0: target root "../missing" is not an existing directory',
        'root 1: target root "/" is the filesystem root'
      ])
    })
  )

  it.effect("cleans targets (directories and files) and leaves everything else alone", () =>
    Effect.gen(function* () {
      const t = tree()
      fs.mkdirSync(path.join(t.out, "a", "part"), { recursive: true })
      fs.writeFileSync(path.join(t.out, "a", "part", "0.parquet"), "old")
      fs.writeFileSync(path.join(t.out, "b.csv"), "old")
      fs.writeFileSync(path.join(t.out, "keep.csv"), "other")
      const s = yield* TargetStore.TargetStore.pipe(Effect.provide(store))
      const resolved = yield* s.check({
        baseDir: t.base,
        roots: ["../out"],
        targets: [
          { ruleId: "a", declared: "../out/a" },
          { ruleId: "b", declared: "../out/b.csv" },
          { ruleId: "c", declared: "../out/never-written" }
        ]
      })
      for (const target of resolved.targets) yield* s.clean(resolved, target)
      expect(fs.readdirSync(t.out)).toEqual(["keep.csv"])
      expect(fs.readFileSync(path.join(t.outside, "precious.txt"), "utf8")).toBe("keep me")
    })
  )

  it.effect("re-checks before deleting: a target swapped for a symlink after the check is refused", () =>
    Effect.gen(function* () {
      const t = tree()
      fs.mkdirSync(path.join(t.out, "a"))
      const s = yield* TargetStore.TargetStore.pipe(Effect.provide(store))
      const resolved = yield* s.check({
        baseDir: t.base,
        roots: ["../out"],
        targets: [{ ruleId: "a", declared: "../out/a/data" }]
      })
      fs.rmSync(path.join(t.out, "a"), { recursive: true })
      fs.symlinkSync(t.outside, path.join(t.out, "a"))
      const exit = yield* Effect.exit(s.clean(resolved, resolved.targets[0]!))
      const error = Exit.findErrorOption(exit)
      assert(error._tag === "Some")
      expect(error.value).toMatchObject({
        _tag: "TargetError",
        code: "TARGET_UNSAFE",
        ruleId: "a",
        category: "capturable"
      })
      expect(error.value.message).toMatch(
        /^refused to clean: target "..\/out\/a\/data" resolves through a symlink/
      )
      expect(fs.readFileSync(path.join(t.outside, "precious.txt"), "utf8")).toBe("keep me")
    })
  )
})
