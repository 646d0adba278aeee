/** Shared test wiring: real Node filesystem, a registry with the scripted runner and a file-checking `sql` runner. */
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { Effect, FileSystem, Layer, Path, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import * as Plugin from "../src/Plugin.js"
import * as TargetStore from "../src/TargetStore.js"
import * as Testing from "../src/testing.js"

/** A stand-in `sql` runner whose static check requires its SQL file to exist next to the batch. */
const fileRunner = Plugin.make({
  kind: "sql",
  options: Schema.Struct({ file: Schema.NonEmptyString }),
  validate: ({ batchDir, options }) =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const file = path.resolve(batchDir, options.file)
      const exists = yield* Effect.orElseSucceed(fs.exists(file), () => false)
      return exists ? [] : [{ path: ["file"], message: `SQL file not found: ${options.file}` }]
    }),
  run: () => Effect.void
})

export const node = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer)

/** Fresh temporary directories named `<prefix>…`; `removeAll` (for `afterAll`) deletes them. */
export const tempDirs = (prefix: string) => {
  const made: Array<string> = []
  return {
    make: (): string => {
      const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), prefix))
      made.push(dir)
      return dir
    },
    removeAll: () => made.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true }))
  }
}

/** Registry + filesystem target store + Node services, with the given scripted runner. */
export const layer = (scripted = Testing.scripted().runner) =>
  Layer.mergeAll(
    Plugin.layer([Plugin.load(scripted), Plugin.load(fileRunner)]),
    TargetStore.layerFileSystem.pipe(Layer.provide(node)),
    node
  )
