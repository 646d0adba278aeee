/**
 * The release of the CLI for hosts that have no Node, or an old one: the CLI bundled by esbuild,
 * the Node runtime the lock pins, a launcher, an installer, the event schemas, the docs and the
 * licences of everything inside — one `spark-etl-<version>-linux-<arch>.tar.gz`.
 *
 * Layout of the unpacked release (LocalServer finds libexec/ and maven/ two levels above its
 * bundled module, as it finds them above dist/local/ in the package):
 *
 *   bin/spark-etl     launcher: exec's the bundled CLI on node/bin/node
 *   lib/cli/          main.js and its lazily loaded chunks, with source maps
 *   node/             the Node runtime and its licence
 *   libexec/ maven/   what the embedded local Spark Connect server needs
 *   schema/ docs/ examples/
 *   install.sh  VERSION  LICENSE  THIRD-PARTY-NOTICES.txt
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as esbuild from "esbuild"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Notices from "./Notices.js"

export class ReleaseError extends Data.TaggedError("ReleaseError")<{
  readonly step: string
  readonly message: string
}> {}

/** The repository this tool is part of (tools/release/{src,dist}/ → ../../..). */
export const repoRoot = path.resolve(import.meta.dirname, "..", "..", "..")

export interface Options {
  /** Folder the tarball is written to; default `<repo>/dist`. */
  readonly outDir?: string
  /** CPU architecture of the runtime; default the host's. */
  readonly arch?: string
}

export interface Artifact {
  readonly tarball: string
  readonly name: string
  readonly version: string
  readonly commit: string
  readonly nodeVersion: string
  readonly bytes: number
}

const step =
  (name: string) =>
  <A>(run: () => A): Effect.Effect<A, ReleaseError> =>
    Effect.try({
      try: run,
      catch: (error) =>
        new ReleaseError({ step: name, message: error instanceof Error ? error.message : String(error) })
    })

const readJson = (file: string): Record<string, unknown> =>
  JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>

const run = (command: string, args: ReadonlyArray<string>, cwd: string): string =>
  execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim()

/** The commit of the tree, marked `-dirty` when it has uncommitted changes. */
const commitOf = (): string => {
  const head = run("git", ["rev-parse", "HEAD"], repoRoot)
  const dirty = run("git", ["status", "--porcelain", "--untracked-files=no"], repoRoot) !== ""
  return dirty ? `${head}-dirty` : head
}

/**
 * The Node runtime the lock pins (the `node` package), for `arch`: npm fetches the matching
 * `node-linux-<arch>` package (integrity checked against the registry; cached by npm) — the same
 * binary that `npm ci` puts on every script's PATH here.
 */
const unpackNode = (version: string, arch: string, into: string): void => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-node-"))
  try {
    const spec = `node-linux-${arch}@${version}`
    let offered = ""
    try {
      offered = run("npm", ["view", spec, "version"], scratch)
    } catch {
      // npm says 404 or ETARGET; either way there is no such runtime to ship.
    }
    if (offered === "")
      throw new Error(`the pinned Node ${version} is not offered for linux-${arch} (no ${spec} on npm)`)
    const tgz = run("npm", ["pack", spec, "--silent"], scratch).split("\n").pop() ?? ""
    run("tar", ["-xzf", tgz, "package/bin/node", "package/LICENSE"], scratch)
    fs.mkdirSync(path.join(into, "bin"), { recursive: true })
    fs.renameSync(path.join(scratch, "package", "bin", "node"), path.join(into, "bin", "node"))
    fs.renameSync(path.join(scratch, "package", "LICENSE"), path.join(into, "LICENSE"))
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true })
  }
}

/**
 * The CLI and everything it imports, as ES modules: the commands load their heavy parts (gRPC,
 * Arrow, kafkajs) with `import()`, and splitting keeps each behind its own chunk, so `--help`
 * and `validate` never read them. CommonJS dependencies get a `require` of their own.
 */
const bundle = (libDir: string): Promise<esbuild.Metafile> =>
  esbuild
    .build({
      entryPoints: [path.join(repoRoot, "packages", "cli", "src", "main.ts")],
      outdir: libDir,
      // The metafile's input paths are then relative to the repository (see Notices.collect).
      absWorkingDir: repoRoot,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "node",
      target: "node24",
      conditions: ["@spark-etl/source"],
      sourcemap: "linked",
      legalComments: "none",
      metafile: true,
      logLevel: "error",
      banner: {
        js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);'
      }
    })
    .then((result) => result.metafile)

const launcher = `#!/bin/sh
# spark-etl: the bundled CLI on the Node runtime shipped beside it, whatever \`node\` is on PATH.
# exec replaces this shell with Node, so a scheduler's signals (AutoSys KILLJOB) reach the CLI
# itself and its exit code is the job's. --max-semi-space-size=16 keeps V8's young generation at
# 32 MiB (Node 20's size), where Node 24 lets a busy process grow it to 64 MiB, all of it resident:
# memory an AutoSys host running many jobs pays per job (figures in tools/release/README.md).
root=$(dirname "$(dirname "$(readlink -f "$0")")")
exec "$root/node/bin/node" --max-semi-space-size=16 "$root/lib/cli/main.js" "$@"
`

const copyTree = (from: string, to: string, filter?: (file: string) => boolean): void =>
  fs.cpSync(from, to, { recursive: true, ...(filter ? { filter } : {}) })

/** Builds the tarball; a failed step leaves no partial tarball behind. */
export const build = (options: Options = {}): Effect.Effect<Artifact, ReleaseError> =>
  Effect.gen(function* () {
    const arch = options.arch ?? process.arch
    const outDir = path.resolve(options.outDir ?? path.join(repoRoot, "dist"))
    const cliPackage = readJson(path.join(repoRoot, "packages", "cli", "package.json"))
    const version = String(cliPackage["version"])
    const nodeVersion = String(
      readJson(path.join(repoRoot, "node_modules", "node", "package.json"))["version"]
    )
    const commit = yield* step("git")(commitOf)
    const name = `spark-etl-${version}-linux-${arch}`
    const staging = yield* step("staging")(() => fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-release-")))
    return yield* Effect.gen(function* () {
      const root = path.join(staging, name)
      const libDir = path.join(root, "lib", "cli")
      yield* step("node runtime")(() => unpackNode(nodeVersion, arch, path.join(root, "node")))
      const metafile = yield* Effect.tryPromise({
        try: () => bundle(libDir),
        catch: (error) => new ReleaseError({ step: "bundle", message: String(error) })
      })
      yield* step("files")(() => {
        // The bundle's .js files are ES modules.
        fs.writeFileSync(path.join(root, "lib", "package.json"), '{ "type": "module" }\n')
        const connect = path.join(repoRoot, "packages", "runner-spark-connect")
        copyTree(path.join(connect, "libexec"), path.join(root, "libexec"))
        copyTree(path.join(connect, "maven"), path.join(root, "maven"))
        copyTree(path.join(repoRoot, "packages", "kafka-reporter", "schema"), path.join(root, "schema"))
        copyTree(path.join(repoRoot, "docs"), path.join(root, "docs"))
        fs.copyFileSync(path.join(repoRoot, "README.md"), path.join(root, "docs", "README.md"))
        const orders = path.join(repoRoot, "examples", "orders")
        copyTree(orders, path.join(root, "examples", "orders"), (file) => {
          const relative = path.relative(orders, file)
          return !relative.startsWith("data") && !relative.startsWith("output")
        })
        fs.copyFileSync(path.join(repoRoot, "LICENSE"), path.join(root, "LICENSE"))
        fs.mkdirSync(path.join(root, "bin"))
        fs.writeFileSync(path.join(root, "bin", "spark-etl"), launcher, { mode: 0o755 })
        fs.copyFileSync(
          path.join(import.meta.dirname, "..", "assets", "install.sh"),
          path.join(root, "install.sh")
        )
        fs.chmodSync(path.join(root, "install.sh"), 0o755)
        fs.writeFileSync(
          path.join(root, "VERSION"),
          `spark-etl ${version}\ncommit ${commit}\nnode ${nodeVersion} linux-${arch}\n`
        )
        fs.writeFileSync(
          path.join(root, "THIRD-PARTY-NOTICES.txt"),
          Notices.render(Notices.collect(metafile, repoRoot), {
            name: `Node.js ${nodeVersion}`,
            licenseFile: path.join(root, "node", "LICENSE")
          })
        )
      })
      const tarball = path.join(outDir, `${name}.tar.gz`)
      yield* step("tar")(() => {
        fs.mkdirSync(outDir, { recursive: true })
        const partial = `${tarball}.partial-${process.pid}`
        run("tar", ["--owner=0", "--group=0", "-czf", partial, "-C", staging, name], staging)
        fs.renameSync(partial, tarball)
      })
      return { tarball, name, version, commit, nodeVersion, bytes: fs.statSync(tarball).size }
    }).pipe(Effect.ensuring(Effect.sync(() => fs.rmSync(staging, { recursive: true, force: true }))))
  })
