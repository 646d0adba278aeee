/**
 * The container path's images, built on this machine with no registry. The Debian root
 * filesystem is made once by mmdebstrap from Debian packages (Java 17's runtime, netcat for the
 * health check, a non-root user) and kept in the cache beside the Maven jars. Each image is that
 * filesystem with the process path's jars and launch arguments appended, imported in one
 * `docker import` whose changes set the user, environment, health check, command and a label
 * holding the hash of every input: a build whose hash the engine already has is skipped.
 *
 * One import, not a Dockerfile: with the vfs storage driver (the one that works everywhere) the
 * classic builder copies the whole filesystem for every instruction, so a nine-line Dockerfile
 * cost a minute where an import costs seconds; and no BuildKit image can be pulled here.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import { LocalServer, Maven } from "@spark-etl/runner-spark-connect/local"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Docker from "./Docker.js"
import * as Exec from "./Exec.js"
import * as LocalKafka from "./LocalKafka.js"

export class ImageError extends Data.TaggedError("ImageError")<{ readonly message: string }> {}

/** The label holding the hash of an image's inputs. */
export const contentLabel = "org.spark-etl.content"

/** Inside the images: where the jars, the launcher and the non-root user's home are. */
export const layout = {
  root: "/opt/spark-etl",
  sparkJars: "/opt/spark-etl/jars",
  kafkaLibs: "/opt/spark-etl/kafka/libs",
  user: "spark-etl",
  uid: 10001,
  home: "/home/spark-etl"
} as const

const debian = {
  suite: "bookworm",
  mirror: "http://deb.debian.org/debian",
  packages: ["openjdk-17-jre-headless", "netcat-openbsd"]
} as const

export const sparkImage = (sparkVersion: string): string => `spark-etl/spark-connect:${sparkVersion}`
export const kafkaImage = (kafkaVersion: string): string => `spark-etl/kafka:${kafkaVersion}`

export interface Built {
  readonly image: string
  /** Whether this call built it; false when the engine had it with the same inputs. */
  readonly built: boolean
  readonly seconds: number
  readonly bytes: number
}

const hashOf = (parts: ReadonlyArray<string>): string => {
  const hash = createHash("sha256")
  for (const part of parts) hash.update(part).update("\0")
  return hash.digest("hex").slice(0, 16)
}

// Jars are immutable per Maven version: name and size tell a changed set.
const folderListing = (dir: string): string =>
  fs
    .readdirSync(dir)
    .filter((f) => !f.startsWith("."))
    .sort()
    .map((f) => `${f} ${fs.statSync(path.join(dir, f)).size}`)
    .join("\n")

const fail = (what: string) => (e: { readonly message: string }) =>
  new ImageError({ message: `${what}: ${e.message}` })

const attempt = <A>(what: string, f: () => A): Effect.Effect<A, ImageError> =>
  Effect.try({ try: f, catch: (e) => new ImageError({ message: `${what}: ${String(e)}` }) })

const withStaging = <A, E, R>(
  use: (dir: string) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | ImageError, R> =>
  Effect.acquireUseRelease(
    attempt("cannot make a staging folder", () => fs.mkdtempSync(path.join(os.tmpdir(), "spark-etl-image-"))),
    use,
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

const rootfsHash = hashOf([JSON.stringify(debian), JSON.stringify(layout)])

/** Makes the Debian root filesystem as a tar at `tar` with mmdebstrap (packages from Debian). */
export const makeRootfs = (
  tar: string
): Effect.Effect<void, ImageError, ChildProcessSpawner.ChildProcessSpawner> =>
  Exec.stdoutOf("mmdebstrap", [
    "--quiet",
    "--variant=minbase",
    `--include=${debian.packages.join(",")}`,
    `--customize-hook=chroot "$1" useradd --uid ${layout.uid} --create-home --home-dir ${layout.home} --shell /usr/sbin/nologin ${layout.user}`,
    // Package lists, docs and man pages are of no use in a server image.
    '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/usr/share/doc "$1"/usr/share/man',
    "--format=tar",
    debian.suite,
    tar,
    debian.mirror
  ]).pipe(
    Effect.asVoid,
    Effect.mapError(fail("mmdebstrap could not make the Debian root filesystem (is mmdebstrap installed?)"))
  )

/**
 * The Debian root filesystem as a tar in the cache, made on first use (about half a minute)
 * into a partial file renamed when complete.
 */
const debianRootfs: Effect.Effect<string, ImageError, ChildProcessSpawner.ChildProcessSpawner> = Effect.gen(
  function* () {
    const tar = path.join(Maven.cacheRoot(), "images", `debian-${debian.suite}-${rootfsHash}.tar`)
    if (fs.existsSync(tar)) return tar
    const partial = `${tar}.partial-${process.pid}`
    yield* attempt("cannot make the image cache", () => fs.mkdirSync(path.dirname(tar), { recursive: true }))
    yield* makeRootfs(partial).pipe(
      Effect.tapError(() => Effect.sync(() => fs.rmSync(partial, { force: true })))
    )
    yield* attempt("cannot keep the root filesystem", () => fs.renameSync(partial, tar))
    return tar
  }
)

/** What an image adds to the root filesystem: files by their path inside it, all under `layout.root`. */
interface Addition {
  readonly image: string
  readonly files: ReadonlyArray<{ readonly target: string; readonly content: string; readonly mode?: number }>
  readonly folders: ReadonlyArray<{ readonly target: string; readonly source: string }>
  /** `docker import --change` instructions (the label is added). */
  readonly changes: ReadonlyArray<string>
  /** Inputs not visible in the lists above: the folders' listings. */
  readonly fingerprint: ReadonlyArray<string>
}

const build = (
  addition: Addition
): Effect.Effect<Built, ImageError, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    const started = Date.now()
    const rootfs = yield* debianRootfs
    const hash = hashOf([
      rootfsHash,
      JSON.stringify(addition.changes),
      JSON.stringify(addition.files.map((f) => [f.target, f.mode ?? 0o644, f.content])),
      JSON.stringify(addition.folders.map((f) => f.target)),
      ...addition.fingerprint
    ])
    const hit = (yield* Docker.imageLabel(addition.image, contentLabel)) === hash
    if (!hit)
      yield* withStaging((dir) =>
        Effect.gen(function* () {
          // The tree to append, under `tree/` as it will be under `/`: hard links to the cached
          // jars (a copy across filesystems), so nothing of 300 MB is duplicated.
          const tree = path.join(dir, "tree")
          yield* attempt("cannot stage the image's files", () => {
            for (const folder of addition.folders) {
              const to = path.join(tree, folder.target)
              fs.mkdirSync(to, { recursive: true })
              for (const f of fs.readdirSync(folder.source).filter((n) => !n.startsWith("."))) {
                try {
                  fs.linkSync(path.join(folder.source, f), path.join(to, f))
                } catch {
                  fs.copyFileSync(path.join(folder.source, f), path.join(to, f))
                }
              }
            }
            for (const file of addition.files) {
              fs.mkdirSync(path.dirname(path.join(tree, file.target)), { recursive: true })
              fs.writeFileSync(path.join(tree, file.target), file.content, { mode: file.mode ?? 0o644 })
            }
            fs.copyFileSync(rootfs, path.join(dir, "image.tar"))
          })
          yield* Exec.stdoutOf("tar", [
            "--append",
            "--file",
            path.join(dir, "image.tar"),
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "--directory",
            tree,
            // Only what the root filesystem lacks: an entry it has (`./`, `./opt/`) twice is refused.
            `.${layout.root}`
          ]).pipe(Effect.mapError(fail(`cannot add the files of ${addition.image}`)))
          yield* Docker.docker([
            "import",
            ...[...addition.changes, `LABEL ${contentLabel}=${hash}`].flatMap((c) => ["--change", c]),
            path.join(dir, "image.tar"),
            addition.image
          ]).pipe(Effect.mapError(fail(`cannot import ${addition.image}`)))
        })
      )
    const bytes = yield* Docker.imageSize(addition.image)
    return { image: addition.image, built: !hit, seconds: (Date.now() - started) / 1000, bytes }
  })

const common = (portVariable: string, port: number): ReadonlyArray<string> => [
  `ENV LANG=C.UTF-8 HOME=${layout.home} ${portVariable}=${port}`,
  `USER ${layout.user}`,
  `WORKDIR ${layout.home}`,
  `EXPOSE ${port}`,
  `HEALTHCHECK --interval=2s --timeout=2s --start-period=180s CMD nc -z 127.0.0.1 "$${portVariable}"`
]

/**
 * spark-etl/spark-connect:<version>. Its command runs a server on 0.0.0.0:15002 in the container
 * (`docker run -p 127.0.0.1:15002:15002`); the harness gives its own arguments (host network,
 * 127.0.0.1, a free port). Spark 3.x's launcher binds 127.0.0.1 only: use host networking.
 */
export const buildSpark = (
  sparkVersion: string
): Effect.Effect<Built, ImageError, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    const jars = yield* LocalServer.resolveJars(sparkVersion).pipe(
      Effect.mapError(
        (e) => new ImageError({ message: `cannot fetch Spark ${sparkVersion}'s jars: ${e.message}` })
      )
    )
    const launcher = path.join(LocalServer.launcherDir, "LoopbackConnectServer.java")
    const command = LocalServer.javaArguments({
      sparkVersion,
      port: 15002,
      bindAddress: "0.0.0.0",
      dataDir: path.posix.join(layout.home, "data"),
      jars: layout.sparkJars,
      launcherDir: layout.root
    })
    return yield* build({
      image: sparkImage(sparkVersion),
      folders: [{ target: layout.sparkJars, source: jars }],
      files: [
        { target: `${layout.root}/LoopbackConnectServer.java`, content: fs.readFileSync(launcher, "utf8") }
      ],
      changes: [
        ...common("SPARK_CONNECT_PORT", 15002),
        'ENTRYPOINT ["java"]',
        `CMD ${JSON.stringify(command)}`
      ],
      fingerprint: [folderListing(jars)]
    })
  })

/** The broker's start in the image: storage formatted once, then the broker, as the process path. */
const kafkaEntrypoint = (): string => {
  const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`
  const java = (main: string, args: ReadonlyArray<string>, heap: string) =>
    ["java", ...LocalKafka.javaArguments(layout.kafkaLibs, main, [], heap).map(quote), ...args].join(" ")
  return [
    "#!/bin/sh",
    "# kafka-entrypoint.sh [CONFIG]: formats CONFIG's log.dirs once, then runs the broker in the foreground.",
    "set -eu",
    `config=\${1:-${layout.root}/kafka/server.properties}`,
    `logs=$(sed -n 's/^log.dirs=//p' "$config")`,
    'if [ ! -f "$logs/meta.properties" ]; then',
    "  id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')",
    `  ${java("kafka.tools.StorageTool", ["format", '"--cluster-id=$id"', "-c", '"$config"', "--standalone"], "256m")}`,
    "fi",
    `exec ${java("kafka.Kafka", ['"$config"'], "768m")}`,
    ""
  ].join("\n")
}

/**
 * spark-etl/kafka:<version>: a single-node KRaft broker. Its own configuration listens on
 * 0.0.0.0:9092 and advertises 127.0.0.1:9092 (`docker run -p 127.0.0.1:9092:9092`); the harness
 * gives the path of one it wrote (host network, 127.0.0.1, free ports).
 */
export const buildKafka = (
  kafkaVersion: string = LocalKafka.defaultKafkaVersion
): Effect.Effect<Built, ImageError, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    const libs = yield* LocalKafka.resolveJars(kafkaVersion).pipe(
      Effect.mapError(
        (e) => new ImageError({ message: `cannot fetch Kafka ${kafkaVersion}'s jars: ${e.message}` })
      )
    )
    const properties = LocalKafka.serverProperties(
      9093,
      [
        "listeners=PLAINTEXT://0.0.0.0:9092,CONTROLLER://127.0.0.1:9093",
        ...LocalKafka.plaintextListeners(9092, 9093).filter((l) => !l.startsWith("listeners="))
      ],
      path.posix.join(layout.home, "kraft-logs")
    )
    return yield* build({
      image: kafkaImage(kafkaVersion),
      folders: [{ target: layout.kafkaLibs, source: libs }],
      files: [
        { target: `${layout.root}/kafka/server.properties`, content: properties },
        { target: `${layout.root}/kafka/kafka-entrypoint.sh`, content: kafkaEntrypoint(), mode: 0o755 }
      ],
      changes: [...common("KAFKA_PORT", 9092), `ENTRYPOINT ["${layout.root}/kafka/kafka-entrypoint.sh"]`],
      fingerprint: [folderListing(libs)]
    })
  })

/**
 * Builds what is missing or changed: Spark Connect at `sparkVersion`, and Kafka.
 *
 * @example
 * const built = yield* Images.buildAll({ sparkVersion: "4.2.0" })
 * // [{ image: "spark-etl/spark-connect:4.2.0", built: false, … }, { image: "spark-etl/kafka:4.4.0", … }]
 */
export const buildAll = (options: {
  readonly sparkVersion: string
}): Effect.Effect<ReadonlyArray<Built>, ImageError, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.all([buildSpark(options.sparkVersion), buildKafka()])
