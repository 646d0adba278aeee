/** Where a setting's value came from: a flag, an environment variable, the site config, or the default. */

export type Origin =
  | { readonly _tag: "Flag"; readonly flag: string }
  | { readonly _tag: "Env"; readonly variable: string }
  | {
      readonly _tag: "File"
      readonly file: string
      readonly line: number
      readonly column: number
      /** The field in the file, e.g. `kafka.brokers`. */
      readonly field: string
      /** The variable the field names, for `password_env`. */
      readonly via?: string
    }
  | { readonly _tag: "Default"; readonly note?: string }

export const flag = (name: string): Origin => ({ _tag: "Flag", flag: name })
export const env = (variable: string): Origin => ({ _tag: "Env", variable })
export const byDefault = (note?: string): Origin => ({
  _tag: "Default",
  ...(note !== undefined ? { note } : {})
})

/** As `spark-etl config` shows it: `flag --remote`, `env SPARK_REMOTE`, `file /etc/…:3`, `default`. */
export const describe = (origin: Origin): string => {
  switch (origin._tag) {
    case "Flag":
      return `flag ${origin.flag}`
    case "Env":
      return `env ${origin.variable}`
    case "File":
      return `file ${origin.file}:${origin.line}${origin.via !== undefined ? ` via env ${origin.via}` : ""}`
    case "Default":
      return origin.note !== undefined ? `default (${origin.note})` : "default"
  }
}
