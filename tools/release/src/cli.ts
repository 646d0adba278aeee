/**
 * `npm run release [-- --arch x64|arm64] [--out DIR]`: builds dist/spark-etl-<version>-linux-<arch>.tar.gz
 * (run after `nx run-many -t build`, which generates the Spark Connect stubs the bundle needs).
 * `--help` lists the flags; an unknown flag or architecture is refused with exit 1.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Release from "./Release.js"

const command = Command.make(
  "release",
  {
    arch: Flag.Literals("arch", ["x64", "arm64"]).pipe(
      Flag.withDescription("CPU architecture of the bundled Node runtime (default: this host's)"),
      Flag.optional
    ),
    out: Flag.String("out").pipe(
      Flag.withDescription("where the tarball is written (default: dist at the repository root)"),
      Flag.optional
    )
  },
  ({ arch, out }) =>
    Effect.gen(function* () {
      const started = performance.now()
      const artifact = yield* Release.build({
        ...Option.match(arch, { onNone: () => ({}), onSome: (a) => ({ arch: a }) }),
        ...Option.match(out, { onNone: () => ({}), onSome: (dir) => ({ outDir: dir }) })
      })
      yield* Console.log(
        `${artifact.tarball}\n  ${(artifact.bytes / 2 ** 20).toFixed(1)} MiB, spark-etl ${artifact.version} ` +
          `(${artifact.commit.slice(0, 12)}), node ${artifact.nodeVersion}, built in ${((performance.now() - started) / 1000).toFixed(1)} s`
      )
    }).pipe(
      Effect.catchTag("ReleaseError", (e) =>
        Effect.andThen(
          Console.error(`release: ${e.step}: ${e.message}`),
          Effect.sync(() => (process.exitCode = 1))
        )
      )
    )
).pipe(Command.withDescription("Builds the release tarball of the spark-etl CLI."))

NodeRuntime.runMain(
  Command.runWith(command, { version: "0.1.0" })(process.argv.slice(2)).pipe(
    Effect.provide(NodeServices.layer)
  )
)
