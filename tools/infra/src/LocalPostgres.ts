/**
 * A throwaway PostgreSQL cluster from Debian's package, as a child process: a fresh data dir
 * (initdb) on every start, TCP on 127.0.0.1 only, password (scram-sha-256) authentication for a
 * user whose password is generated here, ready only once that user's query answers, stopped when
 * its scope closes (and, through the tether, when this process dies).
 *
 * PostgreSQL refuses to run as root. As root, initdb and the postmaster run as Debian's
 * `postgres` system user through `setpriv` (util-linux), which changes the ids and then execs:
 * no extra process stands between the tether and the postmaster, so its stop signal arrives.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import { LocalServer, Ready } from "@spark-etl/runner-spark-connect/local"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Exec from "./Exec.js"

export class LocalPostgresError extends Data.TaggedError("LocalPostgresError")<{
  readonly message: string
  readonly logFile?: string | undefined
}> {}

/** Where and how to connect; what tests and `infra run` hand on. */
export interface PostgresEndpoint {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string
  readonly database: string
  /** `postgresql://user@host:port/database`, without the password (libpq, psql). */
  readonly url: string
  /** `jdbc:postgresql://host:port/database`; user and password go as separate options. */
  readonly jdbcUrl: string
}

export interface Options {
  /** Port on 127.0.0.1; 0 or absent picks a free one. */
  readonly port?: number
  /** Own folder: the cluster, its socket folder and its log. Its cluster is recreated each start. */
  readonly dataDir: string
  readonly startTimeout?: Duration.Input
}

export interface LocalPostgres {
  readonly endpoint: PostgresEndpoint
  /** The tether's pid; SIGTERM to it stops the postmaster with a fast shutdown. */
  readonly pid: number
  readonly logFile: string
  readonly dataDir: string
}

/** The OS user the server runs as when this process is root (created by Debian's package). */
export const systemUser = "postgres"

const user = "spark_etl"
const database = "postgres"

export const endpointOf = (
  host: string,
  port: number,
  credentials: { readonly user: string; readonly password: string; readonly database: string }
): PostgresEndpoint => ({
  host,
  port,
  ...credentials,
  url: `postgresql://${encodeURIComponent(credentials.user)}@${host}:${port}/${encodeURIComponent(credentials.database)}`,
  jdbcUrl: `jdbc:postgresql://${host}:${port}/${encodeURIComponent(credentials.database)}`
})

/** The variables `infra run` exports and the harness reads back (PG_HOST set means "use these"). */
export const toEnv = (endpoint: PostgresEndpoint): Record<string, string> => ({
  PG_HOST: endpoint.host,
  PG_PORT: String(endpoint.port),
  PG_USER: endpoint.user,
  PG_PASSWORD: endpoint.password,
  PG_DATABASE: endpoint.database,
  PG_URL: endpoint.url,
  PG_JDBC_URL: endpoint.jdbcUrl
})

/** The endpoint named by PG_HOST / PG_PORT / PG_USER / PG_PASSWORD / PG_DATABASE, if PG_HOST is set. */
export const fromEnv = (
  env: Readonly<Record<string, string | undefined>>
): PostgresEndpoint | LocalPostgresError | undefined => {
  const host = env["PG_HOST"]
  if (!host) return undefined
  const envUser = env["PG_USER"]
  const password = env["PG_PASSWORD"]
  const port = Number(env["PG_PORT"] ?? "5432")
  if (!envUser || password === undefined)
    return new LocalPostgresError({ message: "PG_HOST is set, so PG_USER and PG_PASSWORD must be too" })
  if (!Number.isInteger(port) || port <= 0 || port > 65535)
    return new LocalPostgresError({ message: `PG_PORT is not a port: ${env["PG_PORT"]}` })
  return endpointOf(host, port, {
    user: envUser,
    password,
    database: env["PG_DATABASE"] ?? database
  })
}

/** Debian installs each major version under /usr/lib/postgresql/<major>/bin; the newest wins. */
export const binDir = (): string | undefined => {
  const root = "/usr/lib/postgresql"
  const majors = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((v) => fs.existsSync(path.join(root, v, "bin", "postgres")))
        .sort((a, b) => Number(b) - Number(a))
    : []
  return majors[0] === undefined ? undefined : path.join(root, majors[0], "bin")
}

const tail = (file: string): string => {
  try {
    return fs.readFileSync(file, "utf8").slice(-3000)
  } catch {
    return ""
  }
}

/** Numeric ids of the system user, for the folders it must own. */
const idsOf = (name: string) =>
  Exec.toEnd("getent", ["passwd", name]).pipe(
    Effect.mapError((e) => new LocalPostgresError({ message: `cannot run getent: ${e.message}` })),
    Effect.flatMap(({ stdout, exitCode }) => {
      const [, , uid, gid] = stdout.trim().split(":")
      return exitCode === 0 && uid !== undefined && gid !== undefined
        ? Effect.succeed({ uid: Number(uid), gid: Number(gid) })
        : Effect.fail(
            new LocalPostgresError({
              message: `running as root, PostgreSQL needs the system user "${name}" (apt-get install -y postgresql creates it)`
            })
          )
    })
  )

/**
 * Creates a fresh cluster in `dataDir` and starts it; stops it when the scope closes.
 *
 * @example
 * const pg = yield* LocalPostgres.start({ dataDir: "/tmp/pg" })
 * // pg.endpoint.jdbcUrl === "jdbc:postgresql://127.0.0.1:40123/postgres"
 */
export const start = (
  options: Options
): Effect.Effect<LocalPostgres, LocalPostgresError, Scope.Scope | ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    const bin = binDir()
    if (bin === undefined) {
      return yield* new LocalPostgresError({
        message:
          "PostgreSQL server binaries not found (/usr/lib/postgresql/<version>/bin/postgres); install them: apt-get install -y postgresql"
      })
    }
    const asRoot = process.getuid?.() === 0
    const owner = asRoot ? yield* idsOf(systemUser) : undefined
    const setpriv = ["--reuid", systemUser, "--regid", systemUser, "--init-groups", "--"]
    const asSystemUser = (program: string, args: ReadonlyArray<string>) =>
      asRoot ? (["setpriv", [...setpriv, program, ...args]] as const) : ([program, args] as const)

    const dataDir = path.resolve(options.dataDir)
    const cluster = path.join(dataDir, "cluster")
    const socketDir = path.join(dataDir, "socket")
    const logFile = path.join(dataDir, "postgres.log")
    const passwordFile = path.join(dataDir, "password")
    fs.mkdirSync(dataDir, { recursive: true })
    fs.rmSync(cluster, { recursive: true, force: true })
    fs.rmSync(socketDir, { recursive: true, force: true })
    fs.mkdirSync(cluster, { mode: 0o700 })
    fs.mkdirSync(socketDir, { mode: 0o700 })
    const password = randomBytes(18).toString("base64url")
    fs.writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 })
    if (owner) for (const p of [cluster, socketDir, passwordFile]) fs.chownSync(p, owner.uid, owner.gid)

    // --no-sync: the new files are not flushed; the cluster is thrown away with the next start.
    const initdb = yield* Exec.toEnd(
      ...asSystemUser(path.join(bin, "initdb"), [
        `--pgdata=${cluster}`,
        `--username=${user}`,
        `--pwfile=${passwordFile}`,
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync"
      ])
    ).pipe(
      Effect.ensuring(Effect.sync(() => fs.rmSync(passwordFile, { force: true }))),
      Effect.mapError((e) => new LocalPostgresError({ message: `cannot run initdb: ${e.message}` }))
    )
    if (initdb.exitCode !== 0) {
      return yield* new LocalPostgresError({
        message:
          `initdb failed (exit ${initdb.exitCode})${asRoot ? `; as root it runs as "${systemUser}", who must be able to enter every parent folder of ${dataDir}` : ""}:\n` +
          `${initdb.stdout}${initdb.stderr}`.slice(-3000)
      })
    }

    const port = options.port && options.port > 0 ? options.port : yield* LocalServer.freePort
    // fsync and full-page writes off: a test cluster trades durability for speed.
    const settings = {
      listen_addresses: "127.0.0.1",
      port: String(port),
      unix_socket_directories: socketDir,
      fsync: "off",
      synchronous_commit: "off",
      full_page_writes: "off"
    }
    const [program, args] = asSystemUser(path.join(bin, "postgres"), [
      "-D",
      cluster,
      ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`])
    ])
    const handle = yield* LocalServer.tethered(logFile, program, args, {
      cwd: dataDir,
      // The tether passes INT on: a fast shutdown, which does not wait for clients to leave.
      env: { TETHER_STOP_SIGNAL: "INT" },
      extendEnv: true
    }).pipe(
      Effect.mapError(
        (e) => new LocalPostgresError({ message: `cannot start postgres: ${e.message}`, logFile })
      )
    )

    const endpoint = endpointOf("127.0.0.1", port, { user, password, database })
    // Ready means the generated password logs in over TCP and a query answers.
    yield* Ready.until({
      process: handle,
      exited: () =>
        new LocalPostgresError({
          message: `postgres exited during start-up:\n${tail(logFile)}`,
          logFile
        }),
      answers: query(endpoint, "SELECT 1"),
      every: "100 millis",
      within: options.startTimeout ?? "60 seconds",
      timedOut: () =>
        new LocalPostgresError({
          message: `postgres did not answer on ${endpoint.host}:${port}:\n${tail(logFile)}`,
          logFile
        })
    })
    return { endpoint, pid: handle.pid, logFile, dataDir }
  })

export class QueryFailed extends Data.TaggedError("QueryFailed")<{ readonly message: string }> {}

/**
 * Runs SQL through psql (Debian's client) as the endpoint's user: its unaligned, tuples-only
 * output, one line per row, `|` between fields. The password goes in the environment, never on
 * the command line.
 *
 * @example
 * const version = yield* LocalPostgres.query(endpoint, "SHOW server_version")
 */
export const query = (
  endpoint: PostgresEndpoint,
  sql: string
): Effect.Effect<string, QueryFailed, ChildProcessSpawner.ChildProcessSpawner> =>
  Exec.toEnd(
    path.join(binDir() ?? "/usr/bin", "psql"),
    [
      "--no-psqlrc",
      "--quiet",
      "--no-password",
      "--tuples-only",
      "--no-align",
      "--set=ON_ERROR_STOP=1",
      `--host=${endpoint.host}`,
      `--port=${endpoint.port}`,
      `--username=${endpoint.user}`,
      `--dbname=${endpoint.database}`,
      `--command=${sql}`
    ],
    { PGPASSWORD: Redacted.make(endpoint.password), PGCONNECT_TIMEOUT: "2" }
  ).pipe(
    Effect.mapError((e) => new QueryFailed({ message: `cannot run psql: ${e.message}` })),
    Effect.flatMap(({ stdout, stderr, exitCode }) =>
      exitCode === 0 ? Effect.succeed(stdout) : Effect.fail(new QueryFailed({ message: stderr.trim() }))
    )
  )
