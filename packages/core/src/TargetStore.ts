/**
 * Where rules write, and how their targets are emptied before the batch (delete-and-load).
 * A store first checks every target of the batch statically (at load, so an unsafe target
 * rejects the batch before any side effect), then cleans each one before any rule runs.
 *
 * The filesystem store (local or mounted paths) refuses a target outside the declared roots
 * (`..` escapes included), a root itself, a path that resolves through a symlink to outside
 * the roots, and two targets where one contains the other. Relative paths start at the batch
 * file's directory. It re-checks right before deleting.
 * Other stores (Spark tables, object stores) implement the same service.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Path from "effect/Path"
import * as Failure from "./Failure.js"

/** A rule's target as declared in the batch file. */
export interface Declared {
  readonly ruleId: string
  readonly declared: string
}

/** A checked target: `location` is the store's canonical address (an absolute path here). */
export interface Target extends Declared {
  readonly location: string
}

/** The batch's checked roots and targets, ready for cleanup. */
export interface Resolved {
  readonly roots: ReadonlyArray<string>
  readonly targets: ReadonlyArray<Target>
}

/** Why a root or target was refused; `at` says which field of the batch file. */
export interface Rejection {
  readonly at:
    { readonly _tag: "Root"; readonly index: number } | { readonly _tag: "Target"; readonly ruleId: string }
  readonly message: string
}

/** The store service. */
export class TargetStore extends Context.Service<
  TargetStore,
  {
    /** The name a batch file selects it by (`targets.store`). */
    readonly name: string
    /** Checks roots and targets; relative paths are taken from `baseDir` (the batch file's). */
    readonly check: (input: {
      readonly baseDir: string
      readonly roots: ReadonlyArray<string>
      readonly targets: ReadonlyArray<Declared>
    }) => Effect.Effect<Resolved, ReadonlyArray<Rejection>>
    /**
     * At preflight, before any target is cleaned: what only the engine can tell about the
     * roots (that they exist on a cluster's storage). Absent: nothing to verify.
     */
    readonly verify?: (resolved: Resolved) => Effect.Effect<void, Failure.TargetError>
    /** Empties one target; re-checks its safety first. Absent targets are fine. */
    readonly clean: (resolved: Resolved, target: Target) => Effect.Effect<void, Failure.TargetError>
    /**
     * Whether a target holds an output, asked without an engine (`plan --resume`); absent for
     * a store that needs one to tell.
     */
    readonly exists?: (target: Target) => Effect.Effect<boolean>
  }
>()("@spark-etl/core/TargetStore") {}

const hasDotDot = (p: string): boolean => p.split(/[\\/]/).includes("..")

/** The filesystem store, on effect's `FileSystem` and `Path`. */
const makeFileSystem: Effect.Effect<TargetStore["Service"], never, FileSystem.FileSystem | Path.Path> =
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path

    const inside = (root: string, p: string): boolean =>
      p.startsWith(root.endsWith(path.sep) ? root : root + path.sep)

    // A resolver of real paths: each component resolved through symlinks, absent ones kept as
    // written. Paths and directory listings are cached: checking thousands of targets under one
    // root costs one listing of it (an entry's type says whether it is a symlink), not an lstat
    // each. A fresh resolver per cleanup sees the filesystem as it is then.
    const realPaths = () => {
      const cache = new Map<string, string>()
      const listings = new Map<string, Option.Option<ReadonlyMap<string, FileSystem.File.Type>>>()
      const listing = (dir: string) => {
        const known = listings.get(dir)
        if (known !== undefined) return Effect.succeed(known)
        return fs.readDirectoryEntries(dir).pipe(
          Effect.map((entries) => new Map(entries.map((e) => [e.name, e.type] as const))),
          Effect.option,
          Effect.tap((l) => Effect.sync(() => listings.set(dir, l)))
        )
      }
      // Whether `p` is a symlink: from its directory's listing, else (unlistable, or a type the
      // listing could not tell) from an lstat.
      const isLink = (parent: string, p: string): Effect.Effect<boolean> =>
        listing(parent).pipe(
          Effect.flatMap((entries) => {
            const type = Option.isSome(entries) ? entries.value.get(path.basename(p)) : "Unknown"
            if (type !== "Unknown") return Effect.succeed(type === "SymbolicLink")
            return Effect.map(Effect.option(fs.lstat(p)), (info) =>
              Option.isSome(info) ? info.value.type === "SymbolicLink" : false
            )
          })
        )
      const real = (p: string): Effect.Effect<string> => {
        const known = cache.get(p)
        if (known !== undefined) return Effect.succeed(known)
        const parent = path.dirname(p)
        if (parent === p) return Effect.succeed(p)
        const viaParent = Effect.map(real(parent), (r) => path.join(r, path.basename(p)))
        return isLink(parent, p).pipe(
          Effect.flatMap((link) =>
            link
              ? fs.realPath(p).pipe(
                  // A dangling link: judge it by where it points.
                  Effect.catch(() =>
                    fs.readLink(p).pipe(
                      Effect.flatMap((target) => real(path.resolve(parent, target))),
                      Effect.orElseSucceed(() => p)
                    )
                  )
                )
              : viaParent
          ),
          Effect.tap((r) => Effect.sync(() => cache.set(p, r)))
        )
      }
      return real
    }

    // Safety of one target against the roots (lexical and real); `undefined` when safe.
    const problem = (
      roots: ReadonlyArray<{ readonly lexical: string; readonly real: string }>,
      declared: string,
      location: string,
      show: (p: string) => string,
      realPath: (p: string) => Effect.Effect<string>
    ): Effect.Effect<string | undefined> =>
      Effect.gen(function* () {
        if (roots.some((r) => r.lexical === location || r.real === location)) {
          return `target "${declared}" is a target root itself; deleting it would delete every target`
        }
        if (!roots.some((r) => inside(r.lexical, location))) {
          return hasDotDot(declared)
            ? `target "${declared}" escapes the declared target roots through ".." (to ${show(location)})`
            : `target "${declared}" is outside the declared target roots`
        }
        const real = yield* realPath(location)
        if (!roots.some((r) => inside(r.real, real))) {
          return `target "${declared}" resolves through a symlink to ${show(real)}, outside the declared target roots`
        }
        return undefined
      })

    const resolveRoots = (
      baseDir: string,
      roots: ReadonlyArray<string>,
      realPath: (p: string) => Effect.Effect<string>
    ) =>
      Effect.forEach(roots, (root, index) =>
        Effect.gen(function* () {
          const lexical = path.resolve(baseDir, root)
          if (lexical === path.parse(lexical).root) {
            return { index, error: `target root "${root}" is the filesystem root` }
          }
          const info = yield* Effect.option(fs.stat(lexical))
          if (Option.isNone(info) || info.value.type !== "Directory") {
            return { index, error: `target root "${root}" is not an existing directory` }
          }
          const real = yield* realPath(lexical)
          return { index, lexical, real }
        })
      )

    return TargetStore.of({
      name: "filesystem",
      check: ({ baseDir, roots, targets }) =>
        Effect.gen(function* () {
          const rejections: Array<Rejection> = []
          const checkedRoots: Array<{ lexical: string; real: string }> = []
          const realPath = realPaths()
          for (const r of yield* resolveRoots(baseDir, roots, realPath)) {
            if ("error" in r) rejections.push({ at: { _tag: "Root", index: r.index }, message: r.error! })
            else checkedRoots.push({ lexical: r.lexical, real: r.real })
          }
          // Without all its roots the targets cannot be judged; the roots' problems say why.
          if (rejections.length > 0) return yield* Effect.fail(rejections)
          // Paths in messages relative to the batch file, as the author wrote them.
          const show = (p: string) => {
            const relative = path.relative(baseDir, p)
            return path.isAbsolute(relative) ? p : relative
          }
          const checked: Array<Target> = []
          const byLocation = new Map<string, string>()
          for (const t of targets) {
            const location = path.resolve(baseDir, t.declared)
            const error = yield* problem(checkedRoots, t.declared, location, show, realPath)
            if (error !== undefined) {
              rejections.push({ at: { _tag: "Target", ruleId: t.ruleId }, message: error })
              continue
            }
            const same = byLocation.get(location)
            if (same !== undefined) {
              rejections.push({
                at: { _tag: "Target", ruleId: t.ruleId },
                message: `target "${t.declared}" is also the target of rule "${same}"`
              })
              continue
            }
            byLocation.set(location, t.ruleId)
            checked.push({ ...t, location })
          }
          // One target inside another: cleaning one would delete the other's output.
          for (const t of checked) {
            for (let p = path.dirname(t.location); p !== path.dirname(p); p = path.dirname(p)) {
              const owner = byLocation.get(p)
              if (owner !== undefined) {
                rejections.push({
                  at: { _tag: "Target", ruleId: t.ruleId },
                  message: `target "${t.declared}" lies inside the target of rule "${owner}"; targets must not overlap`
                })
                break
              }
            }
          }
          if (rejections.length > 0) return yield* Effect.fail(rejections)
          return { roots: checkedRoots.map((r) => r.lexical), targets: checked }
        }),
      clean: (resolved, target) =>
        Effect.gen(function* () {
          const realPath = realPaths()
          const roots = yield* Effect.forEach(resolved.roots, (lexical) =>
            Effect.map(realPath(lexical), (real) => ({ lexical, real }))
          )
          const error = yield* problem(roots, target.declared, target.location, (p) => p, realPath)
          if (error !== undefined) {
            return yield* new Failure.TargetError({
              code: "TARGET_UNSAFE",
              message: `refused to clean: ${error}`,
              ruleId: target.ruleId
            })
          }
          yield* fs.remove(target.location, { recursive: true, force: true }).pipe(
            Effect.mapError(
              (e) =>
                new Failure.TargetError({
                  code: "TARGET_CLEANUP_FAILED",
                  message: `could not delete target ${target.location}: ${e.message}`,
                  ruleId: target.ruleId,
                  restartable: true
                })
            )
          )
        }),
      // An output is a directory of files (or one file); an empty directory holds none.
      exists: (target) =>
        fs.readDirectory(target.location).pipe(
          Effect.map((entries) => entries.length > 0),
          Effect.catch(() => Effect.orElseSucceed(fs.exists(target.location), () => false))
        )
    })
  })

/** The filesystem store as a layer. */
export const layerFileSystem: Layer.Layer<TargetStore, never, FileSystem.FileSystem | Path.Path> =
  Layer.effect(TargetStore, makeFileSystem)

/** An in-memory store for tests: lexical checks only; records what was cleaned, in order. */
export const memory = (options?: {
  /** The store's name; default `memory`. */
  readonly name?: string
  /** Targets whose cleanup fails with a `TargetError`. */
  readonly failOn?: ReadonlyArray<string>
}): { readonly cleaned: Array<string>; readonly layer: Layer.Layer<TargetStore> } => {
  const cleaned: Array<string> = []
  const layer = Layer.succeed(
    TargetStore,
    TargetStore.of({
      name: options?.name ?? "memory",
      check: ({ targets }) => {
        const rejections = targets
          .filter((t) => hasDotDot(t.declared))
          .map((t): Rejection => ({ at: { _tag: "Target", ruleId: t.ruleId }, message: `".." in target` }))
        return rejections.length > 0
          ? Effect.fail(rejections)
          : Effect.succeed({ roots: [], targets: targets.map((t) => ({ ...t, location: t.declared })) })
      },
      clean: (_resolved, target) =>
        options?.failOn?.includes(target.declared)
          ? Effect.fail(
              new Failure.TargetError({
                code: "TARGET_CLEANUP_FAILED",
                message: `cannot clean ${target.declared}`,
                ruleId: target.ruleId
              })
            )
          : Effect.sync(() => void cleaned.push(target.declared))
    })
  )
  return { cleaned, layer }
}
