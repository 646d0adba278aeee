/**
 * Routes Effect's logger to pino: every log line, with its annotations (run id, batch, rule),
 * goes as JSON to the run's log file; a short readable line goes to stderr for the operator
 * watching AutoSys' std_err_file. Writes are synchronous, so nothing is lost when the process
 * exits right after a failure. Secrets never reach either stream.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as path from "node:path"
import pino from "pino"
import { Parameter } from "@spark-etl/core"

/** Field paths pino removes from every line; fixed in code, never built from input. */
const redactPaths: ReadonlyArray<string> = [
  "token",
  "password",
  "secret",
  "authorization",
  "*.token",
  "*.password",
  "*.secret",
  "*.authorization",
  "sasl.password",
  "*.sasl.password"
]

const secretInText = /\b(token|password|secret|authorization)(\s*[=:]\s*)([^;&\s,"']+)/gi

/** Masks `token=…`-style secrets inside free text, e.g. a connection string in a message. */
export const scrub = (text: string): string => text.replace(secretInText, `$1$2${Parameter.masked}`)

export interface Options {
  /** JSON lines file of this run. */
  readonly file: string
  /** Lowest level written to stderr; the file gets everything from debug up. */
  readonly stderrLevel?: "debug" | "info" | "warn" | "error" | "none"
  /** Write stderr as JSON lines instead of readable text. */
  readonly stderrJson?: boolean
  /** Where readable lines go; defaults to process.stderr. */
  readonly stderr?: NodeJS.WritableStream
}

const pinoLevel = (level: string): "debug" | "info" | "warn" | "error" | "fatal" | "trace" => {
  switch (level) {
    case "Fatal":
      return "fatal"
    case "Error":
      return "error"
    case "Warn":
      return "warn"
    case "Info":
      return "info"
    case "Trace":
      return "trace"
    default:
      return "debug"
  }
}

const rank = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, fatal: 5, none: 9 } as const

const text = (message: unknown): string =>
  Array.isArray(message)
    ? message.map(text).join(" ")
    : typeof message === "string"
      ? message
      : JSON.stringify(message)

/**
 * A logger writing to the file and stderr, closed with its scope.
 *
 * @example
 * Logging.layer({ file: "/var/log/spark-etl/orders-20261126.jsonl" })
 */
const make = (options: Options): Effect.Effect<Logger.Logger<unknown, void>, never, Scope.Scope> =>
  Effect.gen(function* () {
    // A log may quote what a run was given: readable by its owner only.
    fs.mkdirSync(path.dirname(options.file), { recursive: true, mode: 0o700 })
    const destination = yield* Effect.acquireRelease(
      Effect.sync(() => pino.destination({ dest: options.file, sync: true, append: true, mode: 0o600 })),
      (d) => Effect.sync(() => d.flushSync())
    )
    const fileLogger = pino(
      {
        level: "trace",
        base: { pid: process.pid, host: process.env["HOSTNAME"] ?? undefined },
        timestamp: pino.stdTimeFunctions.isoTime,
        redact: { paths: [...redactPaths], censor: Parameter.masked },
        formatters: { level: (label) => ({ level: label }) }
      },
      destination
    )
    const stderr = options.stderr ?? process.stderr
    const stderrMin = rank[options.stderrLevel ?? "info"]
    return Logger.make(({ cause, date, fiber, logLevel, message }) => {
      // Secret parameter values of the run, wherever a line quotes them (an engine's message).
      const secrets = fiber.getRef(Parameter.Secrets)
      const annotations = JSON.parse(
        secrets(JSON.stringify(fiber.getRef(References.CurrentLogAnnotations)))
      ) as Record<string, unknown>
      const level = pinoLevel(logLevel)
      const msg = secrets(scrub(text(message)))
      const error = cause.reasons.length > 0 ? secrets(scrub(Cause.pretty(cause))) : undefined
      fileLogger[level]({ ...annotations, ...(error ? { cause: error } : {}) }, msg)
      if (rank[level] >= stderrMin) {
        const rule = typeof annotations["rule"] === "string" ? ` [${annotations["rule"]}]` : ""
        stderr.write(
          options.stderrJson
            ? JSON.stringify({
                time: date.toISOString(),
                level,
                ...annotations,
                msg,
                ...(error ? { cause: error } : {})
              }) + "\n"
            : `${date.toISOString().slice(11, 19)} ${level.toUpperCase().padEnd(5)}${rule} ${msg}${error ? `\n${error}` : ""}\n`
        )
      }
    })
  })

/** Replaces the default loggers with the pino-backed one, from debug up, for the layer's scope. */
export const layer = (options: Options): Layer.Layer<never> =>
  Layer.mergeAll(
    Layer.unwrap(Effect.map(make(options), (logger) => Logger.layer([logger]))),
    Layer.succeed(References.MinimumLogLevel, "Debug")
  )

/** For commands without a run (validate, plan, flush): warnings and errors to stderr only. */
export const quiet: Layer.Layer<never> = Logger.layer([
  Logger.make(({ logLevel, message }) => {
    if (logLevel === "Warn" || logLevel === "Error" || logLevel === "Fatal")
      process.stderr.write(`${logLevel.toUpperCase()} ${scrub(text(message))}\n`)
  })
])
