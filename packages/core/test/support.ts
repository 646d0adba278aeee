/** Shared test wiring: real Node filesystem, a registry with the scripted runner and a file-checking `sql` runner. */
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { Effect, FileSystem, Layer, Path, Schema } from "effect"
import * as Plugin from "../src/Plugin.js"
import * as TargetStore from "../src/TargetStore.js"
import * as Testing from "../src/testing.js"

/** A stand-in `sql` runner whose static check requires its SQL file to exist next to the batch. */
export const fileRunner = Plugin.make({
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

/** Registry + filesystem target store + Node services, with the given scripted runner. */
export const layer = (scripted = Testing.scripted().runner) =>
  Layer.mergeAll(
    Plugin.layer([Plugin.load(scripted), Plugin.load(fileRunner)]),
    TargetStore.layerFileSystem.pipe(Layer.provide(node)),
    node
  )
