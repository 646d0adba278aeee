/**
 * What differs between the Spark Connect servers the client speaks to, decided once per
 * session from the version the server reports. The stubs are generated from the newest
 * protocol; an older server gets the request shapes it knows, and a call it lacks fails typed,
 * naming the version needed — never a silent difference.
 */
import * as SparkError from "../SparkError.js"

export interface Dialect {
  /** The server's Spark version, e.g. `3.5.7`. */
  readonly sparkVersion: string
  /**
   * SqlCommand with the text and literal arguments in the command itself (`sql`, `args`,
   * `pos_args`): Spark 3.5 knows no other shape; 4.0 added the `input` relation.
   */
  readonly inlineSqlCommand: boolean
  /** ReleaseSession (4.0). */
  readonly releaseSession: boolean
  /** FetchErrorDetails, the server-side cause chain (4.0). */
  readonly errorDetails: boolean
}

const majorOf = (sparkVersion: string): number => {
  const major = Number.parseInt(sparkVersion, 10)
  // A version this client cannot read is taken as the newest: the generated protocol's.
  return Number.isNaN(major) ? Number.POSITIVE_INFINITY : major
}

/** The dialect of a server by its reported version. */
export const of = (sparkVersion: string): Dialect => {
  const modern = majorOf(sparkVersion) >= 4
  return { sparkVersion, inlineSqlCommand: !modern, releaseSession: modern, errorDetails: modern }
}

/** The typed failure of a call the server's version lacks. */
export const unsupported = (dialect: Dialect, call: string, since: string): SparkError.SparkUnsupported =>
  SparkError.make("SparkUnsupported", {
    message: `${call} needs a Spark Connect server ${since} or newer; this server runs Spark ${dialect.sparkVersion}`
  })
